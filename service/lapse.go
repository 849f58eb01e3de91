package service

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Lapse reminders (断缴提醒). A user opts in for a person and region they may
// pay for. Once a day, in daytime Asia/Shanghai, a job (outbox lapse_day,
// unique per Shanghai date, so several instances run it once) looks at
// every opt-in whose region's monthly due day is at most LapseWindowDays
// away: when the platform's profile shows the current month unpaid, the
// user gets one lapse_reminder subscribe message, keyed
// "lapse:<person>:<month>", so each person is reminded at most once a month
// per user whatever the job's repeats.

// LapseWatch is one opt-in.
type LapseWatch struct {
	ID        int64
	UserID    int64
	PersonID  int64
	Region    string
	CreatedAt time.Time
}

// LapseStore keeps opt-ins.
type LapseStore interface {
	// AddWatch inserts w; an existing (user, person, region) is kept.
	AddWatch(ctx context.Context, w LapseWatch) error
	// RemoveWatch deletes the opt-in; a missing one is no error.
	RemoveWatch(ctx context.Context, userID, personID int64, region string) error
	// Watches lists a user's opt-ins.
	Watches(ctx context.Context, userID int64) ([]LapseWatch, error)
	// WatchesAfter pages through every opt-in by id.
	WatchesAfter(ctx context.Context, afterID int64, limit int) ([]LapseWatch, error)
}

// JobLapseDay is the outbox kind of a day's lapse scan; Ref is the
// Shanghai date (2006-01-02).
const JobLapseDay = "lapse_day"

// LapseWindowDays is the default reminder window before the due day.
const LapseWindowDays = 5

// LapseDeps are what LapseService needs.
type LapseDeps struct {
	Store     LapseStore
	Regions   []Region
	Resolver  PersonResolver // opt-in: the user may act for the person
	Persons   PersonFinder   // the job: the person's identity for the platform
	Platform  Platform
	Subscribe *SubscribeService
	Users     UserFinder // optional: care mode wording
	Outbox    Outbox
	Clock     Clock
	Log       *slog.Logger
	Window    int // days before the due day; 0 means LapseWindowDays
	Owner     string
}

// LapseService manages opt-ins and runs the daily reminder job.
type LapseService struct {
	d LapseDeps
}

// NewLapseService returns a LapseService. It panics on a missing
// dependency.
func NewLapseService(d LapseDeps) *LapseService {
	if d.Store == nil || len(d.Regions) == 0 || d.Resolver == nil || d.Persons == nil || d.Platform == nil || d.Subscribe == nil ||
		d.Outbox == nil || d.Clock == nil {
		panic("service: NewLapseService: missing dependency")
	}
	if d.Window <= 0 {
		d.Window = LapseWindowDays
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Owner == "" {
		d.Owner = "lapse"
	}
	return &LapseService{d: d}
}

// Watch opts the user in for person in region.
//
// Errors: lapse_invalid (400) for an unknown region; the resolver's errors
// for the person (404, 403 family_consent_withdrawn).
func (s *LapseService) Watch(ctx context.Context, userID int64, region, person string) (*LapseWatch, error) {
	r, p, err := s.resolve(ctx, userID, region, person)
	if err != nil {
		return nil, err
	}
	w := LapseWatch{UserID: userID, PersonID: p.ID, Region: r.Code, CreatedAt: s.d.Clock.Now().UTC()}
	if err := s.d.Store.AddWatch(ctx, w); err != nil {
		return nil, err
	}
	return &w, nil
}

// Unwatch opts the user out; not opted in is no error.
func (s *LapseService) Unwatch(ctx context.Context, userID int64, region, person string) error {
	r, p, err := s.resolve(ctx, userID, region, person)
	if err != nil {
		return err
	}
	return s.d.Store.RemoveWatch(ctx, userID, p.ID, r.Code)
}

// Watches lists the user's opt-ins.
func (s *LapseService) Watches(ctx context.Context, userID int64) ([]LapseWatch, error) {
	return s.d.Store.Watches(ctx, userID)
}

func (s *LapseService) resolve(ctx context.Context, userID int64, region, person string) (*Region, *Person, error) {
	r, ok := FindRegion(s.d.Regions, region)
	if !ok {
		return nil, nil, Invalid("lapse_invalid", "不支持该地区", FieldError{Field: "region", Code: CodeUnknownRegion, Message: "不支持该地区"})
	}
	if person == "" {
		return nil, nil, Invalid("lapse_invalid", "请选择参保人", FieldError{Field: "person", Code: FieldRequired, Message: "请选择参保人"})
	}
	p, err := s.d.Resolver.ResolvePerson(ctx, userID, person)
	if err != nil {
		return nil, nil, err
	}
	return r, p, nil
}

// DueDate returns the region's due day in t's Shanghai month (the month's
// last day when the due day is later), as midnight Shanghai in UTC.
func DueDate(r *Region, t time.Time) time.Time {
	l := t.In(Shanghai)
	first := time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, Shanghai)
	last := first.AddDate(0, 1, -1).Day()
	day := r.PaymentDeadlineDay
	if day > last {
		day = last
	}
	return time.Date(l.Year(), l.Month(), day, 0, 0, 0, 0, Shanghai).UTC()
}

// InLapseWindow reports whether t's Shanghai date is within window days
// before the region's due day of that month, the due day included.
func InLapseWindow(r *Region, t time.Time, window int) bool {
	due := DueDate(r, t)
	dayStart, _ := ShanghaiDay(t)
	return !dayStart.After(due) && !dayStart.Before(due.AddDate(0, 0, -window))
}

// RunDue enqueues today's scan in daytime and works any due scan. Several
// instances run one scan per day: the job is unique per date and leased.
func (s *LapseService) RunDue(ctx context.Context) error {
	now := s.d.Clock.Now()
	if _, day := nextDaytime(now); day {
		if err := s.d.Outbox.Enqueue(ctx, OutboxJob{Kind: JobLapseDay, Ref: now.In(Shanghai).Format("2006-01-02")}); err != nil {
			return err
		}
	}
	jobs, err := s.d.Outbox.Claim(ctx, JobLapseDay, s.d.Owner, 10*time.Minute, 2)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if next, day := nextDaytime(s.d.Clock.Now()); !day {
			if err := s.d.Outbox.Retry(ctx, j.ID, s.d.Owner, next, "outside daytime hours"); err != nil {
				return err
			}
			continue
		}
		if _, err := s.Scan(ctx); err != nil {
			if rerr := s.d.Outbox.Retry(ctx, j.ID, s.d.Owner, s.d.Clock.Now().Add(30*time.Minute), ErrorText(err, 400)); rerr != nil {
				return rerr
			}
			continue
		}
		if err := s.d.Outbox.Complete(ctx, j.ID, s.d.Owner); err != nil {
			return err
		}
	}
	return nil
}

// Scan reminds every opted-in person whose current month is unpaid within
// the window; it returns how many reminders it enqueued (a repeat within the
// month enqueues nothing new but counts). A platform failure for one person
// is logged and the scan goes on; the scan fails only on our own errors.
func (s *LapseService) Scan(ctx context.Context) (int, error) {
	now := s.d.Clock.Now()
	month := now.In(Shanghai).Format("2006-01")
	n := 0
	var after int64
	for {
		ws, err := s.d.Store.WatchesAfter(ctx, after, 200)
		if err != nil {
			return n, err
		}
		if len(ws) == 0 {
			return n, nil
		}
		for _, w := range ws {
			after = w.ID
			r, ok := FindRegion(s.d.Regions, w.Region)
			if !ok || !InLapseWindow(r, now, s.d.Window) {
				continue
			}
			key := fmt.Sprintf("lapse:%d:%s", w.PersonID, month)
			if done, err := s.d.Subscribe.Notified(ctx, w.UserID, key); err != nil {
				return n, err
			} else if done {
				continue // reminded this month: no need to ask the platform again
			}
			p, err := s.d.Persons.FindPerson(ctx, w.PersonID)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return n, err
			}
			prof, err := s.d.Platform.FindProfile(ctx, r.Code, p.Ref())
			if err != nil {
				s.d.Log.Warn("lapse: platform profile", "region", r.Code, "person", w.PersonID, "err", err)
				continue
			}
			if !MonthUnpaid(prof, month) {
				continue
			}
			care := false
			if s.d.Users != nil {
				if u, err := s.d.Users.FindUserByID(ctx, w.UserID); err == nil {
					care = u.CareMode
				}
			}
			if err := s.d.Subscribe.Notify(ctx, w.UserID, key, TplLapseReminder,
				"pages/pay/index?region="+r.Code, LapseData(r.Name, month, DueDate(r, now), care)); err != nil {
				return n, err
			}
			n++
		}
	}
}

// MonthUnpaid reports whether an insurance the person is enrolled in is
// not paid through month.
func MonthUnpaid(p InsuredProfile, month string) bool {
	for _, in := range p.Insurances {
		if in.Status == "not_insured" {
			continue
		}
		if in.PaidThrough == "" || in.PaidThrough < month {
			return true
		}
	}
	return false
}

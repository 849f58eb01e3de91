package model

import (
	"context"
	"fmt"
	"time"
)

// OpsSnapshot is what operations watch, read from the database at scrape
// time (so every instance reports the same numbers and nothing is lost on a
// restart).
type OpsSnapshot struct {
	// Outbox holds the pending jobs per kind and the creation time of the
	// oldest one.
	Outbox []OutboxKindStat
	// OpenHolds counts risk holds not yet decided.
	OpenHolds int64
	// OpenAlerts counts open alerts per kind.
	OpenAlerts map[string]int64
	// Refunds counts refunds per state; Postings postings per status.
	Refunds  map[string]int64
	Postings map[string]int64
	// ReconDate is the latest reconciled bill date and ReconMismatches its
	// findings per kind.
	ReconDate       string
	ReconMismatches map[string]int64
}

// OutboxKindStat is the pending depth of one outbox job kind.
type OutboxKindStat struct {
	Kind    string
	Pending int64
	Oldest  time.Time // created_at of the oldest pending job
	Overdue int64     // pending jobs whose next attempt is due
}

type kindCount struct {
	K string `gorm:"column:k"`
	N int64  `gorm:"column:n"`
}

// OpsSnapshot reads the snapshot with a handful of grouped COUNT queries on
// indexed columns.
func (db *DB) OpsSnapshot(ctx context.Context, now time.Time) (*OpsSnapshot, error) {
	s := &OpsSnapshot{OpenAlerts: map[string]int64{}, Refunds: map[string]int64{}, Postings: map[string]int64{}, ReconMismatches: map[string]int64{}}
	g := db.WithContext(ctx)
	var ob []struct {
		Kind    string  `gorm:"column:kind"`
		N       int64   `gorm:"column:n"`
		Oldest  aggTime `gorm:"column:oldest"`
		Overdue int64   `gorm:"column:overdue"`
	}
	if err := g.Raw(`SELECT kind, COUNT(*) AS n, MIN(created_at) AS oldest,
		SUM(CASE WHEN next_attempt_at <= ? THEN 1 ELSE 0 END) AS overdue
		FROM outbox WHERE status = ? GROUP BY kind`, now.UTC(), jobPending).Scan(&ob).Error; err != nil {
		return nil, err
	}
	for _, r := range ob {
		s.Outbox = append(s.Outbox, OutboxKindStat{Kind: r.Kind, Pending: r.N, Oldest: time.Time(r.Oldest), Overdue: r.Overdue})
	}
	if err := g.Raw(`SELECT COUNT(*) FROM holds WHERE status = 'open'`).Scan(&s.OpenHolds).Error; err != nil {
		return nil, err
	}
	for _, q := range []struct {
		sql string
		out map[string]int64
	}{
		{`SELECT kind AS k, COUNT(*) AS n FROM alerts WHERE status = 'open' GROUP BY kind`, s.OpenAlerts},
		{`SELECT status AS k, COUNT(*) AS n FROM refunds GROUP BY status`, s.Refunds},
		{`SELECT status AS k, COUNT(*) AS n FROM postings GROUP BY status`, s.Postings},
	} {
		var rows []kindCount
		if err := g.Raw(q.sql).Scan(&rows).Error; err != nil {
			return nil, err
		}
		for _, r := range rows {
			q.out[r.K] = r.N
		}
	}
	var day []string
	if err := g.Raw(`SELECT bill_date FROM recon_runs ORDER BY bill_date DESC LIMIT 1`).Scan(&day).Error; err != nil {
		return nil, err
	}
	if len(day) == 1 {
		s.ReconDate = day[0]
		var rows []kindCount
		if err := g.Raw(`SELECT kind AS k, COUNT(*) AS n FROM recon_findings WHERE bill_date = ? GROUP BY kind`, day[0]).Scan(&rows).Error; err != nil {
			return nil, err
		}
		for _, r := range rows {
			s.ReconMismatches[r.K] = r.N
		}
	}
	return s, nil
}

// aggTime scans an aggregate of a DATETIME column (MIN(created_at)): MySQL
// returns a time, SQLite a string, since an aggregate has no declared type.
type aggTime time.Time

func (t *aggTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*t = aggTime{}
		return nil
	case time.Time:
		*t = aggTime(x.UTC())
		return nil
	case []byte:
		v = string(x)
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("aggregate time: unsupported %T", v)
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05"} {
		if p, err := time.Parse(layout, s); err == nil {
			*t = aggTime(p.UTC())
			return nil
		}
	}
	return fmt.Errorf("aggregate time: cannot parse %q", s)
}

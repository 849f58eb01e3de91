package model

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/shebao/sipay/redact"
	"github.com/shebao/sipay/service"
)

// Tickets: the subject, the messages and the attached order context are
// encrypted at rest (what users type may name themselves).

type ticketRow struct {
	ID                 int64 `gorm:"primaryKey"`
	TicketNo           string
	UserID             int64
	OrderNo            string
	Source             string
	Category           string
	AutoKey            sql.NullString
	Status             string
	Subject            string
	Context            string
	OpenedAt           time.Time
	FirstResponseDueAt time.Time
	FirstResponseAt    sql.NullTime
	SlaBreachedAt      sql.NullTime
	ResolvedAt         sql.NullTime
	UpdatedAt          time.Time
}

func (ticketRow) TableName() string { return "tickets" }

type ticketMessageRow struct {
	ID        int64 `gorm:"primaryKey"`
	TicketID  int64
	Author    string
	Actor     string
	Body      string
	CreatedAt time.Time
}

func (ticketMessageRow) TableName() string { return "ticket_messages" }

func (s *HelpStore) fromTicket(t *service.Ticket) (ticketRow, error) {
	subject, err := s.s.seal("ticket subject", t.Subject)
	if err != nil {
		return ticketRow{}, err
	}
	ctxJSON := "{}"
	if t.Context != nil {
		b, err := json.Marshal(t.Context)
		if err != nil {
			return ticketRow{}, err
		}
		ctxJSON = string(b)
	}
	sealedCtx, err := s.s.seal("ticket context", ctxJSON)
	if err != nil {
		return ticketRow{}, err
	}
	r := ticketRow{TicketNo: t.No, UserID: t.UserID, OrderNo: t.OrderNo, Source: t.Source, Category: t.Category,
		Status: string(t.Status), Subject: subject, Context: sealedCtx, OpenedAt: t.OpenedAt.UTC(),
		FirstResponseDueAt: t.FirstResponseDueAt.UTC(), FirstResponseAt: nullTime(t.FirstResponseAt),
		SlaBreachedAt: nullTime(t.SLABreachedAt), ResolvedAt: nullTime(t.ResolvedAt), UpdatedAt: t.UpdatedAt.UTC()}
	if t.AutoKey != "" {
		r.AutoKey = sql.NullString{String: t.AutoKey, Valid: true}
	}
	return r, nil
}

func (s *HelpStore) toTicket(r *ticketRow, withContext bool) (*service.Ticket, error) {
	subject, err := s.s.open("ticket subject", r.Subject)
	if err != nil {
		return nil, err
	}
	t := &service.Ticket{No: r.TicketNo, UserID: r.UserID, OrderNo: r.OrderNo, Source: r.Source, Category: r.Category,
		AutoKey: r.AutoKey.String, Status: service.TicketStatus(r.Status), Subject: subject, OpenedAt: r.OpenedAt.UTC(),
		FirstResponseDueAt: r.FirstResponseDueAt.UTC(), FirstResponseAt: fromNull(r.FirstResponseAt),
		SLABreachedAt: fromNull(r.SlaBreachedAt), ResolvedAt: fromNull(r.ResolvedAt), UpdatedAt: r.UpdatedAt.UTC()}
	if withContext {
		raw, err := s.s.open("ticket context", r.Context)
		if err != nil {
			return nil, err
		}
		if raw != "{}" {
			t.Context = &service.TicketContext{}
			if err := json.Unmarshal([]byte(raw), t.Context); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

func (s *HelpStore) insertMessages(tx *gorm.DB, ticketID int64, msgs []service.TicketMessage, now time.Time) error {
	for _, m := range msgs {
		body, err := s.s.seal("ticket message", m.Body)
		if err != nil {
			return err
		}
		at := m.CreatedAt
		if at.IsZero() {
			at = now
		}
		row := ticketMessageRow{TicketID: ticketID, Author: m.Author, Actor: redact.Clip(m.Actor, 80), Body: body, CreatedAt: at.UTC().Truncate(time.Microsecond)}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
	}
	return nil
}

// CreateTicket inserts t with its first message; ErrDuplicate when a
// ticket with t.AutoKey exists.
func (s *HelpStore) CreateTicket(ctx context.Context, t *service.Ticket, first service.TicketMessage) error {
	row, err := s.fromTicket(t)
	if err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return s.insertMessages(tx, row.ID, []service.TicketMessage{first}, s.db.Now())
	})
	return storeErr("create ticket", err)
}

// FindTicket returns a ticket with its context and messages.
func (s *HelpStore) FindTicket(ctx context.Context, no string) (*service.Ticket, error) {
	var row ticketRow
	if err := s.db.WithContext(ctx).Where("ticket_no = ?", no).First(&row).Error; err != nil {
		return nil, storeErr("find ticket", err)
	}
	t, err := s.toTicket(&row, true)
	if err != nil {
		return nil, err
	}
	var msgs []ticketMessageRow
	if err := s.db.WithContext(ctx).Where("ticket_id = ?", row.ID).Order("id").Find(&msgs).Error; err != nil {
		return nil, storeErr("ticket messages", err)
	}
	for _, m := range msgs {
		body, err := s.s.open("ticket message", m.Body)
		if err != nil {
			return nil, err
		}
		t.Messages = append(t.Messages, service.TicketMessage{Author: m.Author, Actor: m.Actor, Body: body, CreatedAt: m.CreatedAt.UTC()})
	}
	return t, nil
}

// FindTickets lists tickets newest first (f.ByDue: earliest first-response
// due first, index ix_tickets_sla), without messages or context.
func (s *HelpStore) FindTickets(ctx context.Context, f service.TicketFilter) ([]service.Ticket, error) {
	q := s.db.WithContext(ctx).Order("id DESC")
	if f.ByDue {
		q = s.db.WithContext(ctx).Order("first_response_due_at, id")
	}
	if f.UserID != 0 {
		q = q.Where("user_id = ?", f.UserID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	return findAllDecoded(q.Limit(f.Limit), "find tickets", s.toListedTicket)
}

// toListedTicket is a ticket as lists show it: without its context.
func (s *HelpStore) toListedTicket(r *ticketRow) (service.Ticket, error) {
	t, err := s.toTicket(r, false)
	if err != nil {
		return service.Ticket{}, err
	}
	return *t, nil
}

// UpdateTicket locks the ticket, applies fn and writes the change with its
// effects (messages, subscribe messages with their jobs, alerts) in one
// transaction. It returns the ticket as committed, with its messages.
func (s *HelpStore) UpdateTicket(ctx context.Context, no string, fn func(*service.Ticket, *service.TicketEffects) error) (*service.Ticket, error) {
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		var row ticketRow
		if err := lockForUpdate(tx, s.db.Dialect).Where("ticket_no = ?", no).First(&row).Error; err != nil {
			return err
		}
		t, err := s.toTicket(&row, false)
		if err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&ticketMessageRow{}).Where("ticket_id = ?", row.ID).Count(&n).Error; err != nil {
			return err
		}
		t.Messages = make([]service.TicketMessage, n) // counted, not decrypted: fn needs only how many
		var fx service.TicketEffects
		if err := fn(t, &fx); err != nil {
			return err
		}
		now := s.db.Now()
		t.UpdatedAt = now
		if err := tx.Model(&ticketRow{}).Where("id = ?", row.ID).Updates(map[string]any{
			"status": string(t.Status), "first_response_at": nullTime(t.FirstResponseAt), "sla_breached_at": nullTime(t.SLABreachedAt),
			"resolved_at": nullTime(t.ResolvedAt), "updated_at": now}).Error; err != nil {
			return err
		}
		if err := s.insertMessages(tx, row.ID, fx.Messages, now); err != nil {
			return err
		}
		for i := range fx.Notify {
			if _, err := insertSubscribe(tx, &fx.Notify[i], now); err != nil {
				return err
			}
		}
		for _, a := range fx.Alerts {
			if err := upsertAlert(tx, a, now); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, service.ErrNoChange) {
		return nil, err
	}
	if err != nil {
		if service.AsError(err) != nil {
			return nil, err
		}
		return nil, storeErr("update ticket", err)
	}
	return s.FindTicket(ctx, no)
}

// FindOverdueTickets lists open tickets without a first response, due
// before now and not yet marked breached (index ix_tickets_sla).
func (s *HelpStore) FindOverdueTickets(ctx context.Context, now time.Time, limit int) ([]service.Ticket, error) {
	return findAllDecoded(s.db.WithContext(ctx).Where("status = ? AND first_response_due_at < ? AND first_response_at IS NULL AND sla_breached_at IS NULL",
		string(service.TicketOpen), now.UTC()).Order("first_response_due_at").Limit(limit), "overdue tickets", s.toListedTicket)
}

// CountTickets counts tickets by status (metrics).
func (s *HelpStore) CountTickets(ctx context.Context) (map[string]int64, error) {
	var rows []kindCount
	if err := s.db.WithContext(ctx).Model(&ticketRow{}).Select("status AS k, COUNT(*) AS n").Group("status").Scan(&rows).Error; err != nil {
		return nil, storeErr("count tickets", err)
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.K] = r.N
	}
	return out, nil
}

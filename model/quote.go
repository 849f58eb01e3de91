package model

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shebao/sipay/service"
)

// quoteRow is a row of quotes. Lines and batches are JSON text.
type quoteRow struct {
	ID           string `gorm:"primaryKey"`
	UserID       int64
	PersonID     int64
	Region       string
	TotalFen     int64
	MutualAidFen int64
	PayableFen   int64
	// MutualAidBalanceFen: the balance the aid was computed from.
	MutualAidBalanceFen int64
	LinesJSON           string `gorm:"column:lines_json"`
	BatchesJSON         string `gorm:"column:batches_json"`
	CreatedAt           time.Time
	ExpiresAt           time.Time
}

func (quoteRow) TableName() string { return "quotes" }

// quoteLineJSON is the stored form of a quote line; money is integer fen.
type quoteLineJSON struct {
	Insurance string `json:"insurance"`
	Month     string `json:"month"`
	Arrears   bool   `json:"arrears,omitempty"`
	BaseFen   int64  `json:"base_fen"`
	RateBP    int64  `json:"rate_bp"`
	AmountFen int64  `json:"amount_fen"`
	PricedBy  string `json:"priced_by,omitempty"`
	Source    string `json:"source,omitempty"`
}

// batchPlanJSON is the stored form of a batch plan.
type batchPlanJSON struct {
	Seq       int    `json:"seq"`
	AmountFen int64  `json:"amount_fen"`
	FromMonth string `json:"from_month"`
	ToMonth   string `json:"to_month"`
}

func fromQuote(q *service.Quote) (*quoteRow, error) {
	lines := make([]quoteLineJSON, len(q.Lines))
	for i, l := range q.Lines {
		lines[i] = quoteLineJSON{Insurance: l.Insurance, Month: l.Month, Arrears: l.Arrears,
			BaseFen: int64(l.BaseFen), RateBP: l.RateBP, AmountFen: int64(l.AmountFen), PricedBy: l.PricedBy, Source: string(l.Source)}
	}
	batches := make([]batchPlanJSON, len(q.Batches))
	for i, b := range q.Batches {
		batches[i] = batchPlanJSON{Seq: b.Seq, AmountFen: int64(b.AmountFen), FromMonth: b.FromMonth, ToMonth: b.ToMonth}
	}
	lj, err := json.Marshal(lines)
	if err != nil {
		return nil, err
	}
	bj, err := json.Marshal(batches)
	if err != nil {
		return nil, err
	}
	return &quoteRow{ID: q.ID, UserID: q.UserID, PersonID: q.PersonID, Region: q.Region,
		TotalFen: int64(q.TotalFen), MutualAidFen: int64(q.MutualAidFen), PayableFen: int64(q.PayableFen),
		MutualAidBalanceFen: int64(q.MutualAidBalanceFen), LinesJSON: string(lj), BatchesJSON: string(bj),
		CreatedAt: q.CreatedAt.UTC().Truncate(time.Microsecond), ExpiresAt: q.ExpiresAt.UTC().Truncate(time.Microsecond)}, nil
}

func toQuote(r *quoteRow) (*service.Quote, error) {
	var lines []quoteLineJSON
	if err := json.Unmarshal([]byte(r.LinesJSON), &lines); err != nil {
		return nil, fmt.Errorf("quote %s lines: %w", r.ID, err)
	}
	var batches []batchPlanJSON
	if err := json.Unmarshal([]byte(r.BatchesJSON), &batches); err != nil {
		return nil, fmt.Errorf("quote %s batches: %w", r.ID, err)
	}
	q := &service.Quote{ID: r.ID, UserID: r.UserID, PersonID: r.PersonID, Region: r.Region,
		TotalFen: service.Fen(r.TotalFen), MutualAidFen: service.Fen(r.MutualAidFen), PayableFen: service.Fen(r.PayableFen),
		MutualAidBalanceFen: service.Fen(r.MutualAidBalanceFen), CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC()}
	for _, l := range lines {
		q.Lines = append(q.Lines, service.QuoteLine{Insurance: l.Insurance, Month: l.Month, Arrears: l.Arrears,
			BaseFen: service.Fen(l.BaseFen), RateBP: l.RateBP, AmountFen: service.Fen(l.AmountFen), PricedBy: l.PricedBy, Source: service.SourceTag(l.Source)})
	}
	for _, b := range batches {
		q.Batches = append(q.Batches, service.BatchPlan{Seq: b.Seq, AmountFen: service.Fen(b.AmountFen), FromMonth: b.FromMonth, ToMonth: b.ToMonth})
	}
	return q, nil
}

// QuoteStore implements service.QuoteStore. Quotes are insert-only.
type QuoteStore struct{ db *DB }

// NewQuoteStore returns a QuoteStore.
func NewQuoteStore(db *DB) *QuoteStore { return &QuoteStore{db: db} }

// CreateQuote inserts the quote. A repeated id returns ErrDuplicate.
func (s *QuoteStore) CreateQuote(ctx context.Context, q *service.Quote) error {
	row, err := fromQuote(q)
	if err != nil {
		return fmt.Errorf("create quote: %w", err)
	}
	// One fixed statement: GORM's Create would build it from the schema by
	// reflection on every quote (the hot path's one write).
	return storeErr("create quote", s.db.WithContext(ctx).Exec(insertQuote,
		row.ID, row.UserID, row.PersonID, row.Region, row.TotalFen, row.MutualAidFen, row.PayableFen,
		row.MutualAidBalanceFen, row.LinesJSON, row.BatchesJSON, row.CreatedAt, row.ExpiresAt).Error)
}

// insertQuote is quoteRow's INSERT (every column; CreateQuote).
const insertQuote = `INSERT INTO quotes (id, user_id, person_id, region, total_fen, mutual_aid_fen, payable_fen,
	mutual_aid_balance_fen, lines_json, batches_json, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// FindQuoteByID returns the quote or ErrNotFound.
func (s *QuoteStore) FindQuoteByID(ctx context.Context, id string) (*service.Quote, error) {
	var row quoteRow
	if err := s.db.WithContext(ctx).Where("id = ?", id).First(&row).Error; err != nil {
		return nil, storeErr("find quote", err)
	}
	return toQuote(&row)
}

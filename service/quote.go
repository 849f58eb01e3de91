package service

import "time"

// Insurance kinds.
const (
	InsurancePension = "pension" // 养老保险
	InsuranceMedical = "medical" // 医疗保险
)

// Quote is a priced offer to pay for one person in one region. Once issued a
// quote is never recomputed: an order takes its lines and amounts as they are.
type Quote struct {
	ID       string
	UserID   int64 // the payer
	PersonID int64 // the insured person (the payer's own identity or a family member)
	Region   string
	Lines    []QuoteLine
	// TotalFen is the sum of the lines; MutualAidFen is paid by the family
	// mutual-aid account (家庭共济); PayableFen = TotalFen - MutualAidFen is
	// what WeChat Pay collects.
	TotalFen     Fen
	MutualAidFen Fen
	PayableFen   Fen
	// MutualAidBalanceFen is the family mutual-aid balance the platform
	// reported when the quote was issued (before other open orders'
	// commitments). Ordering refuses the quote when the aid of the person's
	// other open orders plus MutualAidFen exceeds it.
	MutualAidBalanceFen Fen
	// Batches split PayableFen when it exceeds the region's per-payment
	// limit. A quote within the limit has exactly one batch.
	Batches   []BatchPlan
	CreatedAt time.Time
	ExpiresAt time.Time
}

// QuoteLine is one insurance for one month.
type QuoteLine struct {
	Insurance string // pension | medical
	Month     string // YYYY-MM
	Arrears   bool   // back payment of an earlier month
	BaseFen   Fen
	RateBP    int64 // rate in basis points (1/10000): 20% = 2000
	AmountFen Fen   // always LineAmount(BaseFen, RateBP)
	// PricedBy says whose figures the line carries: PricedByRegion (the
	// region's rules in force that month) or PricedByPlatform (the
	// platform's arrears: its base, rate and amount).
	PricedBy string
	// Source is the line's weakest source grade: SourceSourced,
	// SourceIllustrative (a placeholder base or rate) or SourcePlatform.
	Source SourceTag
}

// Who priced a quote line.
const (
	PricedByRegion   = "region"
	PricedByPlatform = "platform"
)

// BatchPlan is one WeChat payment of a split quote.
type BatchPlan struct {
	Seq       int // 1-based, paid in order
	AmountFen Fen
	FromMonth string
	ToMonth   string
}

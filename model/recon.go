package model

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/shebao/sipay/redact"
	"github.com/shebao/sipay/service"
)

type reconRunRow struct {
	ID       int64 `gorm:"primaryKey"`
	BillDate string
	BillRows int
	Findings int
	RanAt    time.Time
}

func (reconRunRow) TableName() string { return "recon_runs" }

type reconFindingRow struct {
	ID          int64 `gorm:"primaryKey"`
	BillDate    string
	Kind        string
	OutTradeNo  string
	OutRefundNo string
	LocalFen    int64
	RemoteFen   int64
	Detail      string
	CreatedAt   time.Time
}

func (reconFindingRow) TableName() string { return "recon_findings" }

// FindBatchesPaidBetween lists batches paid in [from, to).
func (s *AfterStore) FindBatchesPaidBetween(ctx context.Context, from, to time.Time) ([]service.Batch, error) {
	return findAll(s.db.WithContext(ctx).Where("paid_at >= ? AND paid_at < ?", from.UTC(), to.UTC()).Order("paid_at"), "find paid batches", toBatch)
}

// FindBatch returns one batch by out_trade_no.
func (s *AfterStore) FindBatch(ctx context.Context, outTradeNo string) (*service.Batch, error) {
	return findOne(s.db.WithContext(ctx).Where("out_trade_no = ?", outTradeNo), "find batch", toBatch)
}

// ReplaceFindings replaces a day's findings and run row, and raises the
// day's recon alert (one per day; a rerun counts on it).
func (s *AfterStore) ReplaceFindings(ctx context.Context, r *service.ReconReport) error {
	now := s.db.Now()
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("bill_date = ?", r.Day).Delete(&reconFindingRow{}).Error; err != nil {
			return err
		}
		if err := tx.Where("bill_date = ?", r.Day).Delete(&reconRunRow{}).Error; err != nil {
			return err
		}
		if err := tx.Create(&reconRunRow{BillDate: r.Day, BillRows: r.BillRows, Findings: len(r.Findings), RanAt: r.RanAt.UTC()}).Error; err != nil {
			return err
		}
		for _, f := range r.Findings {
			row := reconFindingRow{BillDate: r.Day, Kind: f.Kind, OutTradeNo: f.OutTradeNo, OutRefundNo: f.OutRefundNo,
				LocalFen: int64(f.LocalFen), RemoteFen: int64(f.RemoteFen), Detail: redact.Clip(f.Detail, 480), CreatedAt: now}
			if err := tx.Create(&row).Error; err != nil {
				return err
			}
		}
		if len(r.Findings) == 0 {
			return nil
		}
		return upsertAlert(tx, service.Alert{Kind: service.AlertReconMismatch, Ref: "recon:" + r.Day,
			Detail: "reconciliation of " + r.Day + " found differences; see GET /api/v1/admin/recon?date=" + r.Day}, now)
	})
	return storeErr("replace findings", err)
}

// FindReport returns a day's stored report.
func (s *AfterStore) FindReport(ctx context.Context, day string) (*service.ReconReport, error) {
	var run reconRunRow
	if err := s.db.WithContext(ctx).Where("bill_date = ?", day).First(&run).Error; err != nil {
		return nil, storeErr("find recon run", err)
	}
	var rows []reconFindingRow
	if err := s.db.WithContext(ctx).Where("bill_date = ?", day).Order("id").Find(&rows).Error; err != nil {
		return nil, storeErr("find findings", err)
	}
	rep := &service.ReconReport{Day: run.BillDate, BillRows: run.BillRows, RanAt: run.RanAt.UTC()}
	for _, f := range rows {
		rep.Findings = append(rep.Findings, service.ReconFinding{Day: f.BillDate, Kind: f.Kind, OutTradeNo: f.OutTradeNo, OutRefundNo: f.OutRefundNo,
			LocalFen: service.Fen(f.LocalFen), RemoteFen: service.Fen(f.RemoteFen), Detail: f.Detail})
	}
	return rep, nil
}

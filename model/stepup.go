package model

import (
	"context"
	"database/sql"
	"time"

	"github.com/shebao/sipay/service"
)

type stepUpRow struct {
	ID            int64 `gorm:"primaryKey"`
	OutTradeNo    string
	AttemptNo     int
	UserID        int64
	FaceAttemptID int64
	VerifyID      string
	Status        string
	VerifyRet     int
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (stepUpRow) TableName() string { return "stepup_attempts" }

// StepUpStore implements service.StepUpStore.
type StepUpStore struct{ db *DB }

// NewStepUpStore returns a StepUpStore.
func NewStepUpStore(db *DB) *StepUpStore { return &StepUpStore{db: db} }

// CreateStepUp inserts a; (out_trade_no, attempt_no) is unique.
func (s *StepUpStore) CreateStepUp(ctx context.Context, a *service.StepUpAttempt) error {
	row := stepUpRow{OutTradeNo: a.OutTradeNo, AttemptNo: a.AttemptNo, UserID: a.UserID, FaceAttemptID: a.FaceAttemptID, VerifyID: a.VerifyID,
		Status: a.Status, VerifyRet: a.VerifyRet, CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC()}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return storeErr("create step-up", err)
	}
	a.ID = row.ID
	return nil
}

// CountStepUps returns the attempts of a batch's hold not in status error,
// and the highest attempt number used.
func (s *StepUpStore) CountStepUps(ctx context.Context, outTradeNo string) (int, int, error) {
	var r struct {
		Used int64
		Last sql.NullInt64
	}
	err := s.db.WithContext(ctx).Model(&stepUpRow{}).Where("out_trade_no = ?", outTradeNo).
		Select("COALESCE(SUM(CASE WHEN status <> ? THEN 1 ELSE 0 END), 0) AS used, MAX(attempt_no) AS last", service.StepUpError).Scan(&r).Error
	if err != nil {
		return 0, 0, storeErr("count step-ups", err)
	}
	return int(r.Used), int(r.Last.Int64), nil
}

// LinkStepUp records the face attempt a step-up started.
func (s *StepUpStore) LinkStepUp(ctx context.Context, id, faceAttemptID int64, verifyID string) error {
	err := s.db.WithContext(ctx).Model(&stepUpRow{}).Where("id = ?", id).
		Updates(map[string]any{"face_attempt_id": faceAttemptID, "verify_id": verifyID}).Error
	return storeErr("link step-up", err)
}

// FindStepUpByVerifyID returns the step-up of a verify_id.
func (s *StepUpStore) FindStepUpByVerifyID(ctx context.Context, verifyID string) (*service.StepUpAttempt, error) {
	var r stepUpRow
	if err := s.db.WithContext(ctx).Where("verify_id = ?", verifyID).First(&r).Error; err != nil {
		return nil, storeErr("find step-up", err)
	}
	return &service.StepUpAttempt{ID: r.ID, OutTradeNo: r.OutTradeNo, AttemptNo: r.AttemptNo, UserID: r.UserID, FaceAttemptID: r.FaceAttemptID,
		VerifyID: r.VerifyID, Status: r.Status, VerifyRet: r.VerifyRet, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}, nil
}

// FinishStepUp moves a pending attempt to status with one conditional
// update; false when it was not pending.
func (s *StepUpStore) FinishStepUp(ctx context.Context, id int64, status string, verifyRet int, at time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Model(&stepUpRow{}).Where("id = ? AND status = ?", id, service.StepUpPending).
		Updates(map[string]any{"status": status, "verify_ret": verifyRet, "updated_at": at.UTC()})
	if res.Error != nil {
		return false, storeErr("finish step-up", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// FindVerifiedFace returns the user's latest verified face attempt of the
// v2 or legacy flow bound to personID (the verification that made the
// user's identity).
func (s *FaceAttemptStore) FindVerifiedFace(ctx context.Context, userID, personID int64) (*service.FaceAttempt, error) {
	var row faceAttemptRow
	if err := s.db.WithContext(ctx).Where("user_id = ? AND person_id = ? AND status = ? AND flow IN ?", userID, personID,
		service.FaceVerified, []string{service.FaceFlowV2, service.FaceFlowLegacy}).Order("id DESC").First(&row).Error; err != nil {
		return nil, storeErr("find verified face", err)
	}
	return s.s.toFaceAttempt(&row)
}

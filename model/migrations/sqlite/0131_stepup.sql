-- +goose Up
-- Step-up face verification of held payments (docs/after-payment.md, "Risk
-- hold"): one row per attempt, numbered per hold; the unique number caps
-- the attempts of a hold even when two start at once.
CREATE TABLE stepup_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  out_trade_no VARCHAR(32) NOT NULL,
  attempt_no INT NOT NULL,
  user_id BIGINT NOT NULL,
  face_attempt_id BIGINT NOT NULL,
  verify_id VARCHAR(256) NOT NULL DEFAULT '',
  status VARCHAR(16) NOT NULL,
  verify_ret INT NOT NULL DEFAULT 0,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_stepup_attempts_no ON stepup_attempts (out_trade_no, attempt_no);
CREATE INDEX ix_stepup_attempts_verify ON stepup_attempts (verify_id);

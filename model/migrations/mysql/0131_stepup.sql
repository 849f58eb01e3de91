-- +goose Up
-- Step-up face verification of held payments (docs/after-payment.md, "Risk
-- hold"): one row per attempt, numbered per hold; the unique number caps
-- the attempts of a hold even when two start at once.
CREATE TABLE stepup_attempts (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  out_trade_no VARCHAR(32) NOT NULL,
  attempt_no INT NOT NULL,
  user_id BIGINT NOT NULL,
  face_attempt_id BIGINT NOT NULL,
  verify_id VARCHAR(256) NOT NULL DEFAULT '',
  status VARCHAR(16) NOT NULL,
  verify_ret INT NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_stepup_attempts_no (out_trade_no, attempt_no),
  KEY ix_stepup_attempts_verify (verify_id(64))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

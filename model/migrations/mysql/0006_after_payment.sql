-- +goose Up
-- After payment: postings to the provincial platform, refunds, risk holds,
-- e-vouchers, reconciliation findings and the operations audit log.
CREATE TABLE postings (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  out_trade_no VARCHAR(32) NOT NULL,
  order_no VARCHAR(24) NOT NULL,
  region VARCHAR(40) NOT NULL,
  status VARCHAR(16) NOT NULL DEFAULT '',
  reference VARCHAR(64) NOT NULL DEFAULT '',
  reason VARCHAR(500) NOT NULL DEFAULT '',
  receipt TEXT NULL,
  failures INT NOT NULL DEFAULT 0,
  last_error VARCHAR(500) NOT NULL DEFAULT '',
  first_pending_at DATETIME(6) NULL,
  delay_flagged_at DATETIME(6) NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_postings_out_trade_no (out_trade_no),
  KEY ix_postings_pending (status, first_pending_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE refunds (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  out_refund_no VARCHAR(64) NOT NULL,
  out_trade_no VARCHAR(32) NOT NULL,
  order_no VARCHAR(24) NOT NULL,
  transaction_id VARCHAR(64) NOT NULL DEFAULT '',
  amount_fen BIGINT NOT NULL,
  total_fen BIGINT NOT NULL,
  reason VARCHAR(40) NOT NULL,
  detail VARCHAR(500) NOT NULL DEFAULT '',
  status VARCHAR(16) NOT NULL,
  refund_id VARCHAR(64) NOT NULL DEFAULT '',
  channel VARCHAR(32) NOT NULL DEFAULT '',
  user_received_account VARCHAR(128) NOT NULL DEFAULT '',
  attempts INT NOT NULL DEFAULT 0,
  last_error VARCHAR(500) NOT NULL DEFAULT '',
  success_at DATETIME(6) NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_refunds_out_refund_no (out_refund_no),
  UNIQUE KEY uk_refunds_out_trade_no (out_trade_no),
  KEY ix_refunds_success (success_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE holds (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  out_trade_no VARCHAR(32) NOT NULL,
  order_no VARCHAR(24) NOT NULL,
  user_id BIGINT NOT NULL,
  rules VARCHAR(200) NOT NULL,
  action VARCHAR(16) NOT NULL,
  detail VARCHAR(1000) NOT NULL DEFAULT '',
  status VARCHAR(16) NOT NULL,
  held_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  decided_at DATETIME(6) NULL,
  decided_by VARCHAR(80) NOT NULL DEFAULT '',
  UNIQUE KEY uk_holds_out_trade_no (out_trade_no),
  KEY ix_holds_status (status, expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE vouchers (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  order_no VARCHAR(24) NOT NULL,
  out_trade_no VARCHAR(32) NOT NULL,
  kind VARCHAR(32) NOT NULL,
  amount_fen BIGINT NOT NULL,
  issued_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NULL,
  content TEXT NOT NULL,
  purged_at DATETIME(6) NULL,
  UNIQUE KEY uk_vouchers_batch_kind (out_trade_no, kind),
  KEY ix_vouchers_order (order_no),
  KEY ix_vouchers_expiry (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE recon_runs (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  bill_date CHAR(10) NOT NULL,
  bill_rows INT NOT NULL,
  findings INT NOT NULL,
  ran_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_recon_runs_date (bill_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE recon_findings (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  bill_date CHAR(10) NOT NULL,
  kind VARCHAR(24) NOT NULL,
  out_trade_no VARCHAR(32) NOT NULL DEFAULT '',
  out_refund_no VARCHAR(64) NOT NULL DEFAULT '',
  local_fen BIGINT NOT NULL DEFAULT 0,
  remote_fen BIGINT NOT NULL DEFAULT 0,
  detail VARCHAR(500) NOT NULL DEFAULT '',
  created_at DATETIME(6) NOT NULL,
  KEY ix_recon_findings_date (bill_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE audit_log (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  actor VARCHAR(80) NOT NULL,
  action VARCHAR(40) NOT NULL,
  target VARCHAR(80) NOT NULL DEFAULT '',
  before_json TEXT NOT NULL,
  after_json TEXT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  KEY ix_audit_target (target, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE INDEX ix_batches_paid_at ON batches (paid_at);

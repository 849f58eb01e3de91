-- +goose Up
-- After payment: postings to the provincial platform, refunds, risk holds,
-- e-vouchers, reconciliation findings and the operations audit log.
CREATE TABLE postings (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  out_trade_no VARCHAR(32) NOT NULL,
  order_no VARCHAR(24) NOT NULL,
  region VARCHAR(40) NOT NULL,
  status VARCHAR(16) NOT NULL DEFAULT '',
  reference VARCHAR(64) NOT NULL DEFAULT '',
  reason VARCHAR(500) NOT NULL DEFAULT '',
  receipt TEXT NULL,
  failures INT NOT NULL DEFAULT 0,
  last_error VARCHAR(500) NOT NULL DEFAULT '',
  first_pending_at DATETIME NULL,
  delay_flagged_at DATETIME NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_postings_out_trade_no ON postings (out_trade_no);
CREATE INDEX ix_postings_pending ON postings (status, first_pending_at);

CREATE TABLE refunds (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
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
  success_at DATETIME NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_refunds_out_refund_no ON refunds (out_refund_no);
CREATE UNIQUE INDEX uk_refunds_out_trade_no ON refunds (out_trade_no);
CREATE INDEX ix_refunds_success ON refunds (success_at);

CREATE TABLE holds (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  out_trade_no VARCHAR(32) NOT NULL,
  order_no VARCHAR(24) NOT NULL,
  user_id BIGINT NOT NULL,
  rules VARCHAR(200) NOT NULL,
  action VARCHAR(16) NOT NULL,
  detail VARCHAR(1000) NOT NULL DEFAULT '',
  status VARCHAR(16) NOT NULL,
  held_at DATETIME NOT NULL,
  expires_at DATETIME NOT NULL,
  decided_at DATETIME NULL,
  decided_by VARCHAR(80) NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX uk_holds_out_trade_no ON holds (out_trade_no);
CREATE INDEX ix_holds_status ON holds (status, expires_at);

CREATE TABLE vouchers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  order_no VARCHAR(24) NOT NULL,
  out_trade_no VARCHAR(32) NOT NULL,
  kind VARCHAR(32) NOT NULL,
  amount_fen BIGINT NOT NULL,
  issued_at DATETIME NOT NULL,
  expires_at DATETIME NULL,
  content TEXT NOT NULL,
  purged_at DATETIME NULL
);
CREATE UNIQUE INDEX uk_vouchers_batch_kind ON vouchers (out_trade_no, kind);
CREATE INDEX ix_vouchers_order ON vouchers (order_no);
CREATE INDEX ix_vouchers_expiry ON vouchers (expires_at);

CREATE TABLE recon_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  bill_date CHAR(10) NOT NULL,
  bill_rows INT NOT NULL,
  findings INT NOT NULL,
  ran_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_recon_runs_date ON recon_runs (bill_date);

CREATE TABLE recon_findings (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  bill_date CHAR(10) NOT NULL,
  kind VARCHAR(24) NOT NULL,
  out_trade_no VARCHAR(32) NOT NULL DEFAULT '',
  out_refund_no VARCHAR(64) NOT NULL DEFAULT '',
  local_fen BIGINT NOT NULL DEFAULT 0,
  remote_fen BIGINT NOT NULL DEFAULT 0,
  detail VARCHAR(500) NOT NULL DEFAULT '',
  created_at DATETIME NOT NULL
);
CREATE INDEX ix_recon_findings_date ON recon_findings (bill_date);

CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  actor VARCHAR(80) NOT NULL,
  action VARCHAR(40) NOT NULL,
  target VARCHAR(80) NOT NULL DEFAULT '',
  before_json TEXT NOT NULL,
  after_json TEXT NOT NULL,
  created_at DATETIME NOT NULL
);
CREATE INDEX ix_audit_target ON audit_log (target, id);

CREATE INDEX ix_batches_paid_at ON batches (paid_at);

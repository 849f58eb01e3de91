-- +goose Up
-- Orders, their WeChat Pay batches, the raw payment-event log, the outbox
-- consumed by background workers, the order timeline and operations alerts.
CREATE TABLE orders (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  order_no VARCHAR(24) NOT NULL,
  user_id BIGINT NOT NULL,
  person_id BIGINT NOT NULL,
  quote_id VARCHAR(40) NOT NULL,
  region VARCHAR(40) NOT NULL,
  amount_fen BIGINT NOT NULL,
  status VARCHAR(24) NOT NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_orders_order_no ON orders (order_no);
CREATE UNIQUE INDEX uk_orders_quote_id ON orders (quote_id);
CREATE INDEX ix_orders_user ON orders (user_id, id);

CREATE TABLE batches (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  order_no VARCHAR(24) NOT NULL,
  seq INT NOT NULL,
  out_trade_no VARCHAR(32) NOT NULL,
  amount_fen BIGINT NOT NULL,
  from_month CHAR(7) NOT NULL,
  to_month CHAR(7) NOT NULL,
  status VARCHAR(24) NOT NULL,
  prepay_id VARCHAR(64) NOT NULL DEFAULT '',
  prepay_at DATETIME NULL,
  expire_at DATETIME NULL,
  payer_open_id VARCHAR(64) NOT NULL DEFAULT '',
  transaction_id VARCHAR(64) NULL,
  paid_at DATETIME NULL,
  updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_batches_out_trade_no ON batches (out_trade_no);
CREATE UNIQUE INDEX uk_batches_order_seq ON batches (order_no, seq);
CREATE UNIQUE INDEX uk_batches_transaction_id ON batches (transaction_id);
CREATE INDEX ix_batches_status ON batches (status, prepay_at);

CREATE TABLE payment_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id VARCHAR(80) NOT NULL,
  source VARCHAR(16) NOT NULL,
  event_type VARCHAR(40) NOT NULL,
  out_trade_no VARCHAR(40) NOT NULL DEFAULT '',
  transaction_id VARCHAR(64) NOT NULL DEFAULT '',
  body TEXT NOT NULL,
  created_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_payment_events_event_id ON payment_events (event_id);

CREATE TABLE outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind VARCHAR(32) NOT NULL,
  ref VARCHAR(64) NOT NULL,
  payload TEXT NOT NULL,
  status VARCHAR(16) NOT NULL,
  attempts INT NOT NULL DEFAULT 0,
  next_attempt_at DATETIME NOT NULL,
  deadline_at DATETIME NULL,
  lease_owner VARCHAR(64) NOT NULL DEFAULT '',
  lease_until DATETIME NULL,
  last_error VARCHAR(500) NOT NULL DEFAULT '',
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_outbox_kind_ref ON outbox (kind, ref);
CREATE INDEX ix_outbox_due ON outbox (kind, status, next_attempt_at);

CREATE TABLE order_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  order_no VARCHAR(24) NOT NULL,
  batch_seq INT NOT NULL DEFAULT 0,
  type VARCHAR(40) NOT NULL,
  detail VARCHAR(1000) NOT NULL DEFAULT '',
  created_at DATETIME NOT NULL
);
CREATE INDEX ix_order_events_order ON order_events (order_no, id);

CREATE TABLE alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind VARCHAR(40) NOT NULL,
  ref VARCHAR(80) NOT NULL DEFAULT '',
  detail VARCHAR(2000) NOT NULL DEFAULT '',
  status VARCHAR(16) NOT NULL DEFAULT 'open',
  created_at DATETIME NOT NULL
);
CREATE INDEX ix_alerts_status ON alerts (status, id);

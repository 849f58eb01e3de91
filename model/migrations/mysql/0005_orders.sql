-- +goose Up
-- Orders, their WeChat Pay batches, the raw payment-event log, the outbox
-- consumed by background workers, the order timeline and operations alerts.
CREATE TABLE orders (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  order_no VARCHAR(24) NOT NULL,
  user_id BIGINT NOT NULL,
  person_id BIGINT NOT NULL,
  quote_id VARCHAR(40) NOT NULL,
  region VARCHAR(40) NOT NULL,
  amount_fen BIGINT NOT NULL,
  status VARCHAR(24) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_orders_order_no (order_no),
  UNIQUE KEY uk_orders_quote_id (quote_id),
  KEY ix_orders_user (user_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE batches (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  order_no VARCHAR(24) NOT NULL,
  seq INT NOT NULL,
  out_trade_no VARCHAR(32) NOT NULL,
  amount_fen BIGINT NOT NULL,
  from_month CHAR(7) NOT NULL,
  to_month CHAR(7) NOT NULL,
  status VARCHAR(24) NOT NULL,
  prepay_id VARCHAR(64) NOT NULL DEFAULT '',
  prepay_at DATETIME(6) NULL,
  expire_at DATETIME(6) NULL,
  payer_open_id VARCHAR(64) NOT NULL DEFAULT '',
  transaction_id VARCHAR(64) NULL,
  paid_at DATETIME(6) NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_batches_out_trade_no (out_trade_no),
  UNIQUE KEY uk_batches_order_seq (order_no, seq),
  UNIQUE KEY uk_batches_transaction_id (transaction_id),
  KEY ix_batches_status (status, prepay_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE payment_events (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id VARCHAR(80) NOT NULL,
  source VARCHAR(16) NOT NULL,
  event_type VARCHAR(40) NOT NULL,
  out_trade_no VARCHAR(40) NOT NULL DEFAULT '',
  transaction_id VARCHAR(64) NOT NULL DEFAULT '',
  body MEDIUMTEXT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_payment_events_event_id (event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE outbox (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  kind VARCHAR(32) NOT NULL,
  ref VARCHAR(64) NOT NULL,
  payload TEXT NOT NULL,
  status VARCHAR(16) NOT NULL,
  attempts INT NOT NULL DEFAULT 0,
  next_attempt_at DATETIME(6) NOT NULL,
  deadline_at DATETIME(6) NULL,
  lease_owner VARCHAR(64) NOT NULL DEFAULT '',
  lease_until DATETIME(6) NULL,
  last_error VARCHAR(500) NOT NULL DEFAULT '',
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_outbox_kind_ref (kind, ref),
  KEY ix_outbox_due (kind, status, next_attempt_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE order_events (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  order_no VARCHAR(24) NOT NULL,
  batch_seq INT NOT NULL DEFAULT 0,
  type VARCHAR(40) NOT NULL,
  detail VARCHAR(1000) NOT NULL DEFAULT '',
  created_at DATETIME(6) NOT NULL,
  KEY ix_order_events_order (order_no, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE alerts (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  kind VARCHAR(40) NOT NULL,
  ref VARCHAR(80) NOT NULL DEFAULT '',
  detail VARCHAR(2000) NOT NULL DEFAULT '',
  status VARCHAR(16) NOT NULL DEFAULT 'open',
  created_at DATETIME(6) NOT NULL,
  KEY ix_alerts_status (status, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

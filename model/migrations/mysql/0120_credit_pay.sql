-- +goose Up
-- Credit pay (社保信用付): one WeChat Pay Score service order per credit
-- batch (docs/credit-pay.md), and how each batch is funded ('' = WeChat Pay
-- JSAPI, 'credit' = a Pay Score service order collected next month).
ALTER TABLE batches ADD COLUMN funding VARCHAR(16) NOT NULL DEFAULT '';

CREATE TABLE credit_orders (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  out_order_no VARCHAR(32) NOT NULL,
  out_trade_no VARCHAR(32) NOT NULL,
  order_no VARCHAR(24) NOT NULL,
  user_id BIGINT NOT NULL,
  region VARCHAR(40) NOT NULL,
  amount_fen BIGINT NOT NULL,
  state VARCHAR(24) NOT NULL,
  service_order_id VARCHAR(64) NOT NULL DEFAULT '',
  confirm_by DATETIME(6) NOT NULL,
  confirmed_at DATETIME(6) NULL,
  posted_at DATETIME(6) NULL,
  due_at DATETIME(6) NULL,
  completed_at DATETIME(6) NULL,
  collected_at DATETIME(6) NULL,
  failed_at DATETIME(6) NULL,
  transaction_id VARCHAR(64) NULL,
  cancel_reason VARCHAR(200) NOT NULL DEFAULT '',
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_credit_orders_out_order_no (out_order_no),
  UNIQUE KEY uk_credit_orders_out_trade_no (out_trade_no),
  UNIQUE KEY uk_credit_orders_order_no (order_no),
  UNIQUE KEY uk_credit_orders_transaction_id (transaction_id),
  KEY ix_credit_orders_collected (collected_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

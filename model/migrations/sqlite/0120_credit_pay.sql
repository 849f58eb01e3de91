-- +goose Up
-- Credit pay (社保信用付): one WeChat Pay Score service order per credit
-- batch (docs/credit-pay.md), and how each batch is funded ('' = WeChat Pay
-- JSAPI, 'credit' = a Pay Score service order collected next month).
ALTER TABLE batches ADD COLUMN funding VARCHAR(16) NOT NULL DEFAULT '';

CREATE TABLE credit_orders (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  out_order_no VARCHAR(32) NOT NULL,
  out_trade_no VARCHAR(32) NOT NULL,
  order_no VARCHAR(24) NOT NULL,
  user_id BIGINT NOT NULL,
  region VARCHAR(40) NOT NULL,
  amount_fen BIGINT NOT NULL,
  state VARCHAR(24) NOT NULL,
  service_order_id VARCHAR(64) NOT NULL DEFAULT '',
  confirm_by DATETIME NOT NULL,
  confirmed_at DATETIME NULL,
  posted_at DATETIME NULL,
  due_at DATETIME NULL,
  completed_at DATETIME NULL,
  collected_at DATETIME NULL,
  failed_at DATETIME NULL,
  transaction_id VARCHAR(64) NULL,
  cancel_reason VARCHAR(200) NOT NULL DEFAULT '',
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_credit_orders_out_order_no ON credit_orders (out_order_no);
CREATE UNIQUE INDEX uk_credit_orders_out_trade_no ON credit_orders (out_trade_no);
CREATE UNIQUE INDEX uk_credit_orders_order_no ON credit_orders (order_no);
CREATE UNIQUE INDEX uk_credit_orders_transaction_id ON credit_orders (transaction_id);
CREATE INDEX ix_credit_orders_collected ON credit_orders (collected_at);

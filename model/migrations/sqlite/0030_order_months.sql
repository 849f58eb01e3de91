-- +goose Up
-- One open order per person, insurance and month: every month an order
-- covers is claimed here in the order's transaction, and the unique key is
-- the truth. A claim whose batch is closed or refunded is stale and is
-- removed by the next order that needs the month (model.OrderStore).
CREATE TABLE order_months (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  person_id BIGINT NOT NULL,
  insurance VARCHAR(16) NOT NULL,
  month CHAR(7) NOT NULL,
  order_no VARCHAR(24) NOT NULL,
  out_trade_no VARCHAR(32) NOT NULL,
  created_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_order_months ON order_months (person_id, insurance, month);
CREATE INDEX ix_order_months_order ON order_months (order_no);
CREATE INDEX ix_orders_person_region ON orders (person_id, region, status);

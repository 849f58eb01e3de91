-- +goose Up
-- A CLOSED refund is never reopened by WeChat under the same out_refund_no,
-- so a retry goes out as a new refund row: attempt n of the batch, numbered
-- RF<out_trade_no> (attempt 1) and RF<out_trade_no>_R<n> after that. The
-- store keeps the sum of a batch's non-closed refunds within its amount.
ALTER TABLE refunds
  ADD COLUMN attempt INT NOT NULL DEFAULT 1,
  DROP INDEX uk_refunds_out_trade_no,
  ADD UNIQUE KEY uk_refunds_trade_attempt (out_trade_no, attempt);

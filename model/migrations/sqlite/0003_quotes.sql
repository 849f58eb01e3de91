-- +goose Up
-- Quotes: priced offers, never changed once issued. Lines and the batch plan
-- are JSON (amounts as integer fen); the totals are BIGINT fen columns.
CREATE TABLE quotes (
  id VARCHAR(32) NOT NULL PRIMARY KEY,
  user_id BIGINT NOT NULL,
  person_id BIGINT NOT NULL,
  region VARCHAR(64) NOT NULL,
  total_fen BIGINT NOT NULL,
  mutual_aid_fen BIGINT NOT NULL DEFAULT 0,
  payable_fen BIGINT NOT NULL,
  lines_json TEXT NOT NULL,
  batches_json TEXT NOT NULL,
  created_at DATETIME NOT NULL,
  expires_at DATETIME NOT NULL
);
CREATE INDEX idx_quotes_user_created ON quotes (user_id, created_at);

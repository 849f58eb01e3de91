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
  lines_json MEDIUMTEXT NOT NULL,
  batches_json TEXT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  KEY idx_quotes_user_created (user_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

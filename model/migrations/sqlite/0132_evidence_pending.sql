-- +goose Up
-- The evidence worker looks for recently posted batches without a record
-- every few seconds (docs/evidence.md): by status and update time, not a
-- scan of every posted batch.
CREATE INDEX ix_batches_status_updated ON batches (status, updated_at);

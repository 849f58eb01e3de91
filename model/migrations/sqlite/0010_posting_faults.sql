-- +goose Up
-- When the first configuration fault (400/401/403/409) of a batch's posting
-- was alerted: one alert per batch, the money is kept while operations act.
ALTER TABLE postings ADD COLUMN fault_alerted_at DATETIME NULL;

-- +goose Up
-- One alert row per (kind, ref): a repeat raises seen_count and last_seen_at
-- (and reopens a resolved alert) instead of adding a row. Existing
-- duplicates fold into the newest row of each (kind, ref).
ALTER TABLE alerts ADD COLUMN seen_count INT NOT NULL DEFAULT 1;
ALTER TABLE alerts ADD COLUMN last_seen_at DATETIME NULL;
UPDATE alerts SET
  seen_count = (SELECT COUNT(*) FROM alerts b WHERE b.kind = alerts.kind AND b.ref = alerts.ref),
  last_seen_at = (SELECT MAX(b.created_at) FROM alerts b WHERE b.kind = alerts.kind AND b.ref = alerts.ref),
  status = CASE WHEN EXISTS (SELECT 1 FROM alerts b WHERE b.kind = alerts.kind AND b.ref = alerts.ref AND b.status = 'open') THEN 'open' ELSE status END;
DELETE FROM alerts WHERE id < (SELECT MAX(b.id) FROM alerts b WHERE b.kind = alerts.kind AND b.ref = alerts.ref);
CREATE UNIQUE INDEX uk_alerts_kind_ref ON alerts (kind, ref);

-- +goose Up
-- One alert row per (kind, ref): a repeat raises seen_count and last_seen_at
-- (and reopens a resolved alert) instead of adding a row. Existing
-- duplicates fold into the newest row of each (kind, ref).
ALTER TABLE alerts
  ADD COLUMN seen_count INT NOT NULL DEFAULT 1,
  ADD COLUMN last_seen_at DATETIME(6) NULL;
UPDATE alerts a JOIN (SELECT kind, ref, MAX(id) AS keep_id, COUNT(*) AS n, MAX(created_at) AS last_at,
    MAX(CASE WHEN status = 'open' THEN 1 ELSE 0 END) AS any_open
    FROM alerts GROUP BY kind, ref) g ON a.id = g.keep_id
  SET a.seen_count = g.n, a.last_seen_at = g.last_at, a.status = CASE WHEN g.any_open = 1 THEN 'open' ELSE a.status END;
DELETE a FROM alerts a JOIN alerts b ON a.kind = b.kind AND a.ref = b.ref AND a.id < b.id;
ALTER TABLE alerts ADD UNIQUE KEY uk_alerts_kind_ref (kind, ref);

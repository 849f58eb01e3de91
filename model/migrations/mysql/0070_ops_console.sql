-- +goose Up
-- Operations console: alerts are acknowledged and resolved by a named
-- operator (open -> acked -> resolved), and the audit log is searched by
-- actor and action as well as by target.
ALTER TABLE alerts
  ADD COLUMN decided_by VARCHAR(80) NOT NULL DEFAULT '',
  ADD COLUMN acked_at DATETIME(6) NULL,
  ADD COLUMN resolved_at DATETIME(6) NULL,
  ADD COLUMN note VARCHAR(500) NOT NULL DEFAULT '';
CREATE INDEX ix_audit_actor ON audit_log (actor, id);
CREATE INDEX ix_audit_action ON audit_log (action, id);
CREATE INDEX ix_postings_updated ON postings (status, updated_at);

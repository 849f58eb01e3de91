-- +goose Up
-- Customer service and notifications (issue 13): see the MySQL file.
CREATE TABLE tickets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ticket_no VARCHAR(24) NOT NULL,
  user_id BIGINT NOT NULL,
  order_no VARCHAR(24) NOT NULL DEFAULT '',
  source VARCHAR(16) NOT NULL,
  category VARCHAR(32) NOT NULL,
  auto_key VARCHAR(80) NULL,
  status VARCHAR(16) NOT NULL,
  subject TEXT NOT NULL,
  context TEXT NOT NULL,
  opened_at DATETIME NOT NULL,
  first_response_due_at DATETIME NOT NULL,
  first_response_at DATETIME NULL,
  sla_breached_at DATETIME NULL,
  resolved_at DATETIME NULL,
  updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_tickets_no ON tickets (ticket_no);
CREATE UNIQUE INDEX uk_tickets_auto ON tickets (auto_key);
CREATE INDEX ix_tickets_user ON tickets (user_id, id);
CREATE INDEX ix_tickets_sla ON tickets (status, first_response_due_at);

CREATE TABLE ticket_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ticket_id BIGINT NOT NULL,
  author VARCHAR(16) NOT NULL,
  actor VARCHAR(80) NOT NULL DEFAULT '',
  body TEXT NOT NULL,
  created_at DATETIME NOT NULL
);
CREATE INDEX ix_ticket_messages_ticket ON ticket_messages (ticket_id, id);

CREATE TABLE subscribe_grants (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id BIGINT NOT NULL,
  template_key VARCHAR(32) NOT NULL,
  remaining INT NOT NULL DEFAULT 0,
  updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_subscribe_grants ON subscribe_grants (user_id, template_key);

CREATE TABLE subscribe_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id BIGINT NOT NULL,
  event_key VARCHAR(96) NOT NULL,
  template_key VARCHAR(32) NOT NULL,
  page VARCHAR(200) NOT NULL DEFAULT '',
  data TEXT NOT NULL,
  status VARCHAR(16) NOT NULL,
  grant_taken BOOLEAN NOT NULL DEFAULT FALSE,
  errcode INT NOT NULL DEFAULT 0,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  sent_at DATETIME NULL
);
CREATE UNIQUE INDEX uk_subscribe_messages ON subscribe_messages (user_id, event_key);
CREATE INDEX ix_subscribe_messages_status ON subscribe_messages (status, id);

CREATE TABLE lapse_watches (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id BIGINT NOT NULL,
  person_id BIGINT NOT NULL,
  region VARCHAR(40) NOT NULL,
  created_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_lapse_watches ON lapse_watches (user_id, person_id, region);

ALTER TABLE order_events ADD COLUMN followed_at DATETIME NULL;
UPDATE order_events SET followed_at = created_at;
CREATE INDEX ix_order_events_follow ON order_events (followed_at, id);

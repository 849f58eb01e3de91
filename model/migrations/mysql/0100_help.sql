-- +goose Up
-- Customer service and notifications (issue 13): tickets with a first-response
-- SLA, WeChat subscribe-message grants and messages, lapse-reminder opt-ins,
-- and a follow mark on order_events so the timeline the money transitions
-- already write (in their own transaction) drives messages and automatic
-- tickets without touching those transitions.
CREATE TABLE tickets (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  ticket_no VARCHAR(24) NOT NULL,
  user_id BIGINT NOT NULL,
  order_no VARCHAR(24) NOT NULL DEFAULT '',
  source VARCHAR(16) NOT NULL,
  category VARCHAR(32) NOT NULL,
  auto_key VARCHAR(80) NULL,
  status VARCHAR(16) NOT NULL,
  subject TEXT NOT NULL,
  context TEXT NOT NULL,
  opened_at DATETIME(6) NOT NULL,
  first_response_due_at DATETIME(6) NOT NULL,
  first_response_at DATETIME(6) NULL,
  sla_breached_at DATETIME(6) NULL,
  resolved_at DATETIME(6) NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_tickets_no (ticket_no),
  UNIQUE KEY uk_tickets_auto (auto_key),
  KEY ix_tickets_user (user_id, id),
  KEY ix_tickets_sla (status, first_response_due_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE ticket_messages (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  ticket_id BIGINT NOT NULL,
  author VARCHAR(16) NOT NULL,
  actor VARCHAR(80) NOT NULL DEFAULT '',
  body TEXT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  KEY ix_ticket_messages_ticket (ticket_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE subscribe_grants (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT NOT NULL,
  template_key VARCHAR(32) NOT NULL,
  remaining INT NOT NULL DEFAULT 0,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_subscribe_grants (user_id, template_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE subscribe_messages (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT NOT NULL,
  event_key VARCHAR(96) NOT NULL,
  template_key VARCHAR(32) NOT NULL,
  page VARCHAR(200) NOT NULL DEFAULT '',
  data TEXT NOT NULL,
  status VARCHAR(16) NOT NULL,
  grant_taken BOOLEAN NOT NULL DEFAULT FALSE,
  errcode INT NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  sent_at DATETIME(6) NULL,
  UNIQUE KEY uk_subscribe_messages (user_id, event_key),
  KEY ix_subscribe_messages_status (status, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE lapse_watches (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT NOT NULL,
  person_id BIGINT NOT NULL,
  region VARCHAR(40) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_lapse_watches (user_id, person_id, region)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE order_events ADD COLUMN followed_at DATETIME(6) NULL;
UPDATE order_events SET followed_at = created_at;
CREATE INDEX ix_order_events_follow ON order_events (followed_at, id);

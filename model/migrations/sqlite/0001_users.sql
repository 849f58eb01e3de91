-- +goose Up
-- Users of the mini-program, keyed by openid.
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  open_id VARCHAR(64) NOT NULL,
  union_id VARCHAR(64) NOT NULL DEFAULT '',
  care_mode BOOLEAN NOT NULL DEFAULT FALSE,
  person_id BIGINT NOT NULL DEFAULT 0,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_users_open_id ON users (open_id);

-- +goose Up
-- Users of the mini-program, keyed by openid.
CREATE TABLE users (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  open_id VARCHAR(64) NOT NULL,
  union_id VARCHAR(64) NOT NULL DEFAULT '',
  care_mode BOOLEAN NOT NULL DEFAULT FALSE,
  person_id BIGINT NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_users_open_id (open_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

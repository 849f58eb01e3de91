-- +goose Up
-- Identities. Names, ID numbers and phones are stored only encrypted
-- (pii: "v1:<kid>:<base64>"); *_bidx columns hold keyed HMAC blind indexes
-- for exact lookups and uniqueness.
CREATE TABLE persons (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name_enc VARCHAR(512) NOT NULL,
  id_type VARCHAR(32) NOT NULL,
  id_number_enc VARCHAR(512) NOT NULL,
  id_number_bidx CHAR(64) NOT NULL,
  phone_enc VARCHAR(512) NOT NULL DEFAULT '',
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_persons_id_number ON persons (id_type, id_number_bidx);

-- Face verification attempts (v2 getverifyid/queryverifyinfo and legacy 1.0).
CREATE TABLE face_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id BIGINT NOT NULL,
  flow VARCHAR(16) NOT NULL,
  out_seq_no VARCHAR(32) NOT NULL,
  verify_id VARCHAR(256) NULL,
  cert_enc VARCHAR(1024) NOT NULL,
  status VARCHAR(16) NOT NULL,
  verify_ret INT NOT NULL DEFAULT 0,
  person_id BIGINT NOT NULL DEFAULT 0,
  day CHAR(10) NOT NULL,
  created_at DATETIME NOT NULL,
  expires_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_face_attempts_out_seq_no ON face_attempts (out_seq_no);
CREATE UNIQUE INDEX uk_face_attempts_verify_id ON face_attempts (verify_id);
CREATE INDEX ix_face_attempts_user_day ON face_attempts (user_id, day);

-- Alternative identity checks through a region's platform.
CREATE TABLE identity_checks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  public_id VARCHAR(64) NOT NULL,
  user_id BIGINT NOT NULL,
  region VARCHAR(32) NOT NULL,
  method VARCHAR(32) NOT NULL,
  purpose VARCHAR(16) NOT NULL,
  platform_check_id VARCHAR(128) NOT NULL,
  name_enc VARCHAR(512) NOT NULL,
  id_type VARCHAR(32) NOT NULL,
  id_number_enc VARCHAR(512) NOT NULL,
  phone_enc VARCHAR(512) NOT NULL DEFAULT '',
  status VARCHAR(16) NOT NULL,
  failed_tries INT NOT NULL DEFAULT 0,
  person_id BIGINT NOT NULL DEFAULT 0,
  created_at DATETIME NOT NULL,
  expires_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_identity_checks_public_id ON identity_checks (public_id);
CREATE INDEX ix_identity_checks_user ON identity_checks (user_id);

-- Family proxy payment (亲属代缴): a payer and a member, active once the
-- member consents.
CREATE TABLE family_bindings (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id BIGINT NOT NULL,
  relation VARCHAR(16) NOT NULL,
  name_enc VARCHAR(512) NOT NULL,
  id_type VARCHAR(32) NOT NULL,
  id_number_enc VARCHAR(512) NOT NULL,
  id_number_bidx CHAR(64) NOT NULL,
  status VARCHAR(16) NOT NULL,
  person_id BIGINT NOT NULL DEFAULT 0,
  invite_hash CHAR(64) NOT NULL,
  invite_expires_at DATETIME NOT NULL,
  consent_method VARCHAR(32) NOT NULL DEFAULT '',
  consented_at DATETIME NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_family_member ON family_bindings (user_id, id_type, id_number_bidx);
CREATE UNIQUE INDEX uk_family_invite ON family_bindings (invite_hash);

-- +goose Up
-- Identities. Names, ID numbers and phones are stored only encrypted
-- (pii: "v1:<kid>:<base64>"); *_bidx columns hold keyed HMAC blind indexes
-- for exact lookups and uniqueness.
CREATE TABLE persons (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name_enc VARCHAR(512) NOT NULL,
  id_type VARCHAR(32) NOT NULL,
  id_number_enc VARCHAR(512) NOT NULL,
  id_number_bidx CHAR(64) CHARACTER SET ascii NOT NULL,
  phone_enc VARCHAR(512) NOT NULL DEFAULT '',
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_persons_id_number (id_type, id_number_bidx)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Face verification attempts (v2 getverifyid/queryverifyinfo and legacy 1.0).
CREATE TABLE face_attempts (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT NOT NULL,
  flow VARCHAR(16) NOT NULL,
  out_seq_no VARCHAR(32) CHARACTER SET ascii NOT NULL,
  verify_id VARCHAR(256) CHARACTER SET ascii NULL,
  cert_enc VARCHAR(1024) NOT NULL,
  status VARCHAR(16) NOT NULL,
  verify_ret INT NOT NULL DEFAULT 0,
  person_id BIGINT NOT NULL DEFAULT 0,
  day CHAR(10) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_face_attempts_out_seq_no (out_seq_no),
  UNIQUE KEY uk_face_attempts_verify_id (verify_id),
  KEY ix_face_attempts_user_day (user_id, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Alternative identity checks through a region's platform.
CREATE TABLE identity_checks (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  public_id VARCHAR(64) CHARACTER SET ascii NOT NULL,
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
  created_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_identity_checks_public_id (public_id),
  KEY ix_identity_checks_user (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Family proxy payment (亲属代缴): a payer and a member, active once the
-- member consents.
CREATE TABLE family_bindings (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT NOT NULL,
  relation VARCHAR(16) NOT NULL,
  name_enc VARCHAR(512) NOT NULL,
  id_type VARCHAR(32) NOT NULL,
  id_number_enc VARCHAR(512) NOT NULL,
  id_number_bidx CHAR(64) CHARACTER SET ascii NOT NULL,
  status VARCHAR(16) NOT NULL,
  person_id BIGINT NOT NULL DEFAULT 0,
  invite_hash CHAR(64) CHARACTER SET ascii NOT NULL,
  invite_expires_at DATETIME(6) NOT NULL,
  consent_method VARCHAR(32) NOT NULL DEFAULT '',
  consented_at DATETIME(6) NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_family_member (user_id, id_type, id_number_bidx),
  UNIQUE KEY uk_family_invite (invite_hash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

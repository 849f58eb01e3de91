-- +goose Up
-- Quotes and orders ask, on their hot path, which identity methods verified
-- a person (model.IdentityEvidence.VerifiedMethods: face attempts and
-- identity checks by person_id). Without these indexes that read scanned
-- both tables, growing with every verification ever made.
CREATE INDEX ix_face_attempts_person ON face_attempts (person_id, status);
CREATE INDEX ix_identity_checks_person ON identity_checks (person_id, status, region);

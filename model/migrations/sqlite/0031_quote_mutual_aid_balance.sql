-- +goose Up
-- The family mutual-aid balance (家庭共济) a quote was computed from. The
-- order's transaction checks that this quote's aid plus the aid of the
-- person's other open orders in the region stays within it, so two quotes
-- issued before either is ordered cannot spend the same balance twice.
ALTER TABLE quotes ADD COLUMN mutual_aid_balance_fen BIGINT NOT NULL DEFAULT 0;

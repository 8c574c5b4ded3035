-- +goose Up
-- calsync store/postgres schema, version 6: a subscription's secret is
-- kept as its SHA-256 (secret_hash, 32 bytes, or empty for a subscription
-- without a secret), never in clear. The hash is all the webhook handlers
-- need to authenticate a notification; whoever reads the database can no
-- longer forge one.
--
-- The old row versions, which hold the plaintext, stay in the table's
-- files until VACUUM reclaims them (and in backups and WAL archives taken
-- before): run VACUUM FULL subscriptions after upgrading to rewrite the
-- table at once.

ALTER TABLE subscriptions ADD COLUMN secret_hash bytea NOT NULL DEFAULT '\x';
UPDATE subscriptions SET secret_hash = sha256(convert_to(secret, 'UTF8')), secret = '' WHERE secret <> '';
ALTER TABLE subscriptions DROP COLUMN secret;

-- The version, for postgres.New, whichever tool ran this file.
UPDATE schema_version SET version = 6;

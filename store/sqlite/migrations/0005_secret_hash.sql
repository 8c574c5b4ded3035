-- calsync store/sqlite schema, version 5: a subscription's secret is kept
-- as its SHA-256 (secret_hash, 32 bytes, or empty for a subscription
-- without a secret), never in clear. The hash is all the webhook handlers
-- need to authenticate a notification; whoever reads the file can no
-- longer forge one. calsync_sha256 is a function the store registers with
-- the driver.
--
-- The plaintext column is blanked before it is dropped, and the store runs
-- with secure_delete on, so that SQLite overwrites the freed bytes instead
-- of leaving them in free pages of the file.

ALTER TABLE subscriptions ADD COLUMN secret_hash BLOB NOT NULL DEFAULT x'';
UPDATE subscriptions SET secret_hash = calsync_sha256(secret), secret = '' WHERE secret <> '';
ALTER TABLE subscriptions DROP COLUMN secret;

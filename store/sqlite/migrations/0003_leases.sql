-- calsync store/sqlite schema, version 3: calsync.Leases, the named,
-- time-limited locks that make a subscription's renewal run in one
-- instance only.

CREATE TABLE leases (
	name    TEXT PRIMARY KEY,
	owner   TEXT NOT NULL,
	expires INTEGER NOT NULL
) WITHOUT ROWID;

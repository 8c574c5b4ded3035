package postgres

// MigrateTo migrates only up to schema version v, to test upgrades from
// older versions.
var MigrateTo = migrate

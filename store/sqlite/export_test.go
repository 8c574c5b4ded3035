package sqlite

// OpenAt opens a database migrated only up to schema version v, to test
// upgrades from older versions.
var OpenAt = open

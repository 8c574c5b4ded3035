package postgres

// MigrateTo migrates the schema cfg names only up to version v, to test
// upgrades from older versions.
var MigrateTo = migrate

// WithoutFeed makes s write no change-feed rows: the baseline of the
// benchmark that measures what the feed costs Apply.
func WithoutFeed(s *Store) { s.noFeed = true }

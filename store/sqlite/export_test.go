package sqlite

// OpenAt opens a database migrated only up to schema version v, to test
// upgrades from older versions.
var OpenAt = open

// WithoutFeed makes s write no change-feed rows: the baseline of the
// benchmark that measures what the feed costs Apply.
func WithoutFeed(s *Store) { s.noFeed = true }

// WithoutPrepared makes s run its hot statements as plain SQL, parsed at
// every call: the baseline of the prepared-statement benchmark.
func WithoutPrepared(s *Store) { s.noPrepare = true }

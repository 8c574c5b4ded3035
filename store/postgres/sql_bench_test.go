package postgres

import (
	"strings"
	"testing"
)

// BenchmarkSQLTemplate measures what naming the schema costs a statement:
// the lookup Store.sql makes (the text made once per Store), against
// replacing the mark on every call. Compare with the round trip of any
// statement (tens of microseconds on loopback).
func BenchmarkSQLTemplate(b *testing.B) {
	s := &Store{prefix: `"calsync".`}
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			_ = s.sql(upsertSQL)
		}
	})
	b.Run("replace", func(b *testing.B) {
		for b.Loop() {
			_ = strings.ReplaceAll(upsertSQL, schemaMark, s.prefix)
		}
	})
}

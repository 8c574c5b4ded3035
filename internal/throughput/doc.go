// Package throughput holds the single-process throughput harness of
// BENCHMARKS.md: an Engine on store/sqlite, the google/googletest emulator
// pushing to webhook.Google on loopback, and offered rates of real changes
// across many calendars. It has no code of its own outside its tests; run
// it with CALSYNC_THROUGHPUT=1 (see throughput_test.go).
package throughput

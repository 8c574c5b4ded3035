// Package cluster holds calsync's cluster tests: several engine instances,
// each a separate OS process, on one PostgreSQL with the River queue
// (package riverqueue), behind an HTTPS load balancer that the Google and
// Microsoft Graph emulators push to. It has no API; see cluster_test.go.
//
// The tests need PostgreSQL: set CALSYNC_TEST_POSTGRES_URL (CI does).
// TestClusterOfThree runs three instances against 500 calendars (set
// CALSYNC_CLUSTER_CALENDARS to change the count) and kills one with
// SIGKILL in the middle of a burst of changes. TestClusterThroughput,
// run only with CALSYNC_CLUSTER_THROUGHPUT=1, measures notifications per
// second with one, two and three instances (see BENCHMARKS.md).
package cluster

package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The example's /metrics carries calsync's metrics, the duration
// histograms with calsync's own bucket boundaries.
func TestMetricsScraped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	scraped, err := run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^calsync_notifications_received_total\{[^}]*provider="google"[^}]*\} [1-9]`),
		regexp.MustCompile(`(?m)^calsync_notifications_processed_total\{[^}]*outcome="ok"[^}]*\} [1-9]`),
		regexp.MustCompile(`(?m)^calsync_sync_duration_seconds_bucket\{[^}]*le="0\.005"[^}]*\} `),
		regexp.MustCompile(`(?m)^calsync_provider_call_duration_seconds_count\{[^}]*operation="fetch"[^}]*\} [1-9]`),
		regexp.MustCompile(`(?m)^calsync_queue_depth(\{[^}]*\})? 0$`),
	} {
		if !want.MatchString(scraped) {
			t.Errorf("/metrics has no line matching %s", want)
		}
	}
	if lines := excerpt(scraped); len(lines) == 0 || !strings.HasPrefix(lines[0], "calsync_") {
		t.Errorf("excerpt = %q", lines)
	}
}

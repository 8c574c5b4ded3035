package msgraph

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/retry"
	"github.com/calsync/calsync/retry/retrytest"
)

// A try of a subscription write that fails without an answer (a reset
// connection) after a try Graph answered with a timed-out validation is
// reported as the connection failure, not with the earlier try's 400.
func TestValidationRetryReportsItsOwnFailure(t *testing.T) {
	f := &fixtureServer{replies: []reply{
		{status: 400, body: []byte(`{"error":{"code":"InvalidRequest","message":"Subscription validation request timed out."}}`)},
		{hangup: true},
	}}
	p := newFixtureProvider(t, f, Config{ValidationRetry: retry.Policy{MaxRetries: 1, Clock: retrytest.NewClock(retrytest.Epoch)}})
	_, err := p.Watch(context.Background(), testCal, provider.WatchRequest{Secret: "abcd", Address: "https://app.example/h"})
	if err == nil {
		t.Fatal("Watch succeeded")
	}
	if len(f.reqs) != 2 {
		t.Fatalf("%d tries, want 2", len(f.reqs))
	}
	if pe, ok := errors.AsType[*provider.Error](err); ok && pe.StatusCode == 400 || strings.Contains(err.Error(), "timed out") {
		t.Errorf("the reset second try is reported with the first try's answer: %v", err)
	}
}

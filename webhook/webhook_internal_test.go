package webhook

import (
	"net/http"
	"testing"
)

// TestHeaderNamesCanonical guards header(): it looks names up without
// canonicalising them, so they must already be canonical.
func TestHeaderNamesCanonical(t *testing.T) {
	for _, k := range []string{headerChannelID, headerChannelToken, headerResourceID, headerResourceState, headerMessageNumber} {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("%q is not canonical (%q)", k, c)
		}
	}
}

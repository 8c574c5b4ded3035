package webhook

import (
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
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

// readAll reads exactly what io.ReadAll would, whatever Content-Length
// claims: right, too small, too large, unknown (-1), or beyond maxPresize.
func TestReadAllMatchesIOReadAll(t *testing.T) {
	for _, size := range []int{0, 1, 511, 512, 513, 700, maxPresize - 1, maxPresize, 3 * maxPresize} {
		body := strings.Repeat("x", size)
		for _, cl := range []int64{int64(size), int64(size) - 1, int64(size) + 1, 2 * int64(size), -1, 0} {
			got, err := readAll(iotest.OneByteReader(strings.NewReader(body)), cl)
			if err != nil || string(got) != body {
				t.Errorf("size %d, Content-Length %d: got %d bytes, %v", size, cl, len(got), err)
			}
			got, err = readAll(strings.NewReader(body), cl)
			if err != nil || string(got) != body {
				t.Errorf("size %d, Content-Length %d, whole reads: got %d bytes, %v", size, cl, len(got), err)
			}
		}
	}
	if _, err := readAll(iotest.TimeoutReader(strings.NewReader("abc")), 3); err == nil {
		t.Error("a read error is not returned")
	}
}

package pkce

import "testing"

// The S256 pair of RFC 7636 appendix B.
func TestMatches(t *testing.T) {
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	for _, c := range []struct {
		method, challenge, verifier string
		want                        bool
	}{
		{"S256", challenge, verifier, true},
		{"S256", challenge, verifier + "x", false},
		{"S256", challenge, "", false},
		{"plain", verifier, verifier, true},
		{"plain", challenge, verifier, false},
		{"", verifier, verifier, true},
	} {
		if got := Matches(c.method, c.challenge, c.verifier); got != c.want {
			t.Errorf("Matches(%q, %.8q…, %.8q…) = %v, want %v", c.method, c.challenge, c.verifier, got, c.want)
		}
	}
}

package retry

import (
	"io"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
)

// TokenRejecter is implemented by token sources that can be told a
// service refused (HTTP 401) an access token they handed out, so that
// their next Token refreshes it rather than hand it out again. The token
// sources of vault.Sources implement it.
type TokenRejecter interface {
	// RejectToken marks accessToken refused; "" means the one the source
	// would hand out now.
	RejectToken(accessToken string)
}

// RefreshOn401 answers a 401 as Google and Microsoft document it:
// refresh the access token and try again. When Base answers 401 and the
// request's token source (Source) is a TokenRejecter, it rejects the
// token the request carried, takes a fresh one and sends the request once
// more with it. The second answer is returned whatever it is: a 401 then
// means the grant itself is refused. A request whose body cannot be
// replayed (a body without GetBody), a source that cannot reject, or a
// refresh that fails leave the first 401 as the answer.
type RefreshOn401 struct {
	// Base sends the requests. Required.
	Base http.RoundTripper
	// Source returns the token source of the request's account. Required.
	Source func(r *http.Request) (oauth2.TokenSource, error)
}

// RoundTrip implements http.RoundTripper.
func (t *RefreshOn401) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.Base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return resp, nil
	}
	ts, err := t.Source(req)
	if err != nil {
		return resp, nil
	}
	rj, ok := ts.(TokenRejecter)
	if !ok {
		return resp, nil
	}
	rj.RejectToken(sentBearer(req, resp))
	tok, err := ts.Token()
	if err != nil {
		return resp, nil // the refresh is refused: the 401 stands
	}
	again := req.Clone(req.Context())
	if req.GetBody != nil {
		if again.Body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	tok.SetAuthHeader(again)
	return t.Base.RoundTrip(again)
}

// sentBearer returns the bearer token the refused request carried: on the
// request itself, or, when Base set it on a copy (oauth2.Transport), on
// the response's request; "" if neither shows it.
func sentBearer(req *http.Request, resp *http.Response) string {
	h := req.Header.Get("Authorization")
	if h == "" && resp.Request != nil {
		h = resp.Request.Header.Get("Authorization")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

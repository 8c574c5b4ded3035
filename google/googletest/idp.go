package googletest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync/internal/pkce"
)

// Lifetimes of the identity provider, as Google documents or answers them.
const (
	// AccessTokenLifetime is how long an access token issued by the
	// identity provider is accepted: Google answers expires_in 3599.
	AccessTokenLifetime = 3599 * time.Second
	// AuthCodeLifetime is how long an authorization code can be exchanged.
	// Google documents no figure; 10 minutes is RFC 6749's recommended
	// maximum (section 4.1.2).
	AuthCodeLifetime = 10 * time.Minute
)

// Scopes the emulator tells apart.
const (
	// ScopeCalendar allows every Calendar API call.
	ScopeCalendar = "https://www.googleapis.com/auth/calendar"
	// ScopeCalendarReadonly allows the reads (events.list, events.get,
	// events.instances, calendarList) and events.watch and channels.stop,
	// not the event writes.
	ScopeCalendarReadonly = "https://www.googleapis.com/auth/calendar.readonly"
	// ScopeCalendarEvents allows every events call, like ScopeCalendar.
	ScopeCalendarEvents = "https://www.googleapis.com/auth/calendar.events"
)

// idpState is the identity provider's state, guarded by Server.mu.
type idpState struct {
	clients   map[string]*oauthClient
	codes     map[string]*authCode
	grants    map[string]*grant // the live grant of each client id
	access    map[string]*issuedToken
	refresh   map[string]*issuedToken
	deny      bool
	codeReqs  int
	refreshes int
}

type oauthClient struct {
	secret    string
	redirects []string
}

// grant is what a consent gives a client: every token issued under it dies
// with it.
type grant struct {
	clientID string
	revoked  bool
}

type authCode struct {
	clientID    string
	redirectURI string
	scope       []string
	challenge   string
	method      string
	withRefresh bool
	expires     time.Time
	used        bool
}

// issuedToken is an access or refresh token of the identity provider.
type issuedToken struct {
	grant   *grant
	scope   []string
	expires time.Time // access tokens only
}

func newIDP() *idpState {
	return &idpState{
		clients: map[string]*oauthClient{},
		codes:   map[string]*authCode{},
		grants:  map[string]*grant{},
		access:  map[string]*issuedToken{},
		refresh: map[string]*issuedToken{},
	}
}

// OAuthEndpoint returns the identity provider's endpoints for an
// oauth2.Config: AuthURL URL()+"/o/oauth2/auth", TokenURL URL()+"/token",
// with client credentials sent in the form (the token endpoint also
// accepts HTTP Basic, as Google's does).
func (s *Server) OAuthEndpoint() oauth2.Endpoint {
	return oauth2.Endpoint{
		AuthURL:   s.ts.URL + "/o/oauth2/auth",
		TokenURL:  s.ts.URL + "/token",
		AuthStyle: oauth2.AuthStyleInParams,
	}
}

// RevokeURL returns the token revocation endpoint, URL()+"/revoke".
func (s *Server) RevokeURL() string { return s.ts.URL + "/revoke" }

// RegisterClient registers an OAuth client with its secret and the
// redirect URIs it may use; a redirect_uri must equal one of them exactly.
// Registering an id again replaces its secret and redirect URIs.
func (s *Server) RegisterClient(id, secret string, redirectURIs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idp.clients[id] = &oauthClient{secret: secret, redirects: slices.Clone(redirectURIs)}
}

// DenyConsent makes the user refuse (deny true) or grant (deny false, the
// default) every later authorization request: a refusal redirects to the
// client with error=access_denied.
func (s *Server) DenyConsent(deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idp.deny = deny
}

// RevokeGrants withdraws the user's consent from every client, as the
// user does at myaccount.google.com: every refresh token is refused with
// invalid_grant from then on, and every access token the identity
// provider issued gets 401 authError. The next consent counts as a first
// one again (it returns a refresh token). Tokens not issued by the
// identity provider are not affected; see [Server.RevokeAll].
func (s *Server) RevokeGrants() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, g := range s.idp.grants {
		g.revoked = true
		delete(s.idp.grants, id)
	}
}

// TokenRequests returns how many requests the token endpoint received for
// grant_type authorization_code (codes) and refresh_token (refreshes),
// whatever their answer.
func (s *Server) TokenRequests() (codes, refreshes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idp.codeReqs, s.idp.refreshes
}

// authenticateIDP checks a token issued by the identity provider for op.
// ok is false for a token the identity provider did not issue. The caller
// holds s.mu.
func (s *Server) authenticateIDP(token, op string) (e *apiError, ok bool) {
	t := s.idp.access[token]
	if t == nil {
		return nil, false
	}
	if t.grant.revoked || !s.cfg.Now().Before(t.expires) {
		return newAPIError(http.StatusUnauthorized, "authError", ""), true
	}
	if !scopeAllows(t.scope, op) {
		return newAPIError(http.StatusForbidden, "insufficientPermissions", ""), true
	}
	return nil, true
}

// writeOps are the operations that need write access to events.
var writeOps = map[string]bool{
	OpEventsInsert: true, OpEventsPatch: true, OpEventsUpdate: true,
	OpEventsDelete: true, OpEventsImport: true,
}

// scopeAllows reports whether a token granted scope may call op: a write
// needs ScopeCalendar or ScopeCalendarEvents, anything else any Calendar
// scope.
func scopeAllows(scope []string, op string) bool {
	for _, sc := range scope {
		switch {
		case sc == ScopeCalendar || sc == ScopeCalendarEvents:
			return true
		case !writeOps[op] && strings.HasPrefix(sc, ScopeCalendar+"."):
			return true
		}
	}
	return false
}

// handleAuthorize is GET /o/oauth2/auth: the user is signed in and
// consents at once (or refuses, see DenyConsent).
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	clientID, redirectURI := q.Get("client_id"), q.Get("redirect_uri")
	s.mu.Lock()
	defer s.mu.Unlock()
	if clientID == "" {
		errorPage(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: client_id")
		return
	}
	c := s.idp.clients[clientID]
	if c == nil {
		errorPage(w, http.StatusUnauthorized, "invalid_client", "The OAuth client was not found.")
		return
	}
	if redirectURI == "" {
		errorPage(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: redirect_uri")
		return
	}
	if !slices.Contains(c.redirects, redirectURI) {
		errorPage(w, http.StatusBadRequest, "redirect_uri_mismatch",
			"The redirect URI in the request, "+redirectURI+", does not match the ones authorized for the OAuth client.")
		return
	}
	back := func(v url.Values) {
		if st := q.Get("state"); st != "" {
			v.Set("state", st)
		}
		target := redirectURI
		if strings.Contains(target, "?") {
			target += "&" + v.Encode()
		} else {
			target += "?" + v.Encode()
		}
		http.Redirect(w, r, target, http.StatusFound)
	}
	if q.Get("response_type") != "code" {
		back(url.Values{"error": {"unsupported_response_type"}})
		return
	}
	scope := strings.Fields(q.Get("scope"))
	if len(scope) == 0 {
		errorPage(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: scope")
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge != "" && method == "" {
		method = "plain" // RFC 7636 section 4.3
	}
	if method != "" && method != "S256" && method != "plain" {
		errorPage(w, http.StatusBadRequest, "invalid_request", "Invalid code_challenge_method value.")
		return
	}
	if challenge == "" && method != "" {
		errorPage(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: code_challenge")
		return
	}
	if s.idp.deny {
		back(url.Values{"error": {"access_denied"}})
		return
	}
	_, consented := s.idp.grants[clientID]
	if !consented {
		s.idp.grants[clientID] = &grant{clientID: clientID}
	}
	code := "4/0" + randomToken()
	s.idp.codes[code] = &authCode{
		clientID:    clientID,
		redirectURI: redirectURI,
		scope:       dedupe(scope),
		challenge:   challenge,
		method:      method,
		withRefresh: q.Get("access_type") == "offline" && (!consented || slices.Contains(strings.Fields(q.Get("prompt")), "consent")),
		expires:     s.cfg.Now().Add(AuthCodeLifetime),
	}
	s.cfg.Logger.Debug("googletest: authorization granted", "client_id", clientID)
	back(url.Values{"code": {code}, "scope": {strings.Join(dedupe(scope), " ")}})
}

// tokenResponse is the token endpoint's success answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// handleToken is POST /token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Bad Request")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	grantType := r.PostForm.Get("grant_type")
	switch grantType {
	case "authorization_code":
		s.idp.codeReqs++
	case "refresh_token":
		s.idp.refreshes++
	}
	clientID, secret, basic := r.BasicAuth()
	if !basic {
		clientID, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	c := s.idp.clients[clientID]
	if c == nil {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "The OAuth client was not found.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(c.secret)) != 1 {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Unauthorized")
		return
	}
	now := s.cfg.Now()
	switch grantType {
	case "authorization_code":
		code := s.idp.codes[r.PostForm.Get("code")]
		if code == nil || code.used || code.clientID != clientID || !now.Before(code.expires) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Bad Request")
			return
		}
		code.used = true // even a failed exchange spends the code
		if r.PostForm.Get("redirect_uri") != code.redirectURI {
			oauthError(w, http.StatusBadRequest, "redirect_uri_mismatch", "Bad Request")
			return
		}
		if code.challenge != "" {
			verifier := r.PostForm.Get("code_verifier")
			if verifier == "" {
				oauthError(w, http.StatusBadRequest, "invalid_grant", "Missing code verifier.")
				return
			}
			if !pkce.Matches(code.method, code.challenge, verifier) {
				oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid code verifier.")
				return
			}
		}
		g := s.idp.grants[clientID]
		if g == nil { // revoked between consent and exchange
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
			return
		}
		res := s.issueLocked(g, code.scope, now)
		if code.withRefresh {
			res.RefreshToken = "1//0" + randomToken()
			s.idp.refresh[res.RefreshToken] = &issuedToken{grant: g, scope: code.scope}
		}
		s.cfg.Logger.Debug("googletest: code exchanged", "client_id", clientID, "refresh_token", code.withRefresh)
		tokenJSON(w, res)
	case "refresh_token":
		rt := s.idp.refresh[r.PostForm.Get("refresh_token")]
		if rt == nil || rt.grant.revoked || rt.grant.clientID != clientID {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
			return
		}
		s.cfg.Logger.Debug("googletest: token refreshed", "client_id", clientID)
		tokenJSON(w, s.issueLocked(rt.grant, rt.scope, now))
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: grant_type")
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+grantType)
	}
}

// issueLocked issues an access token under g. The caller holds s.mu.
func (s *Server) issueLocked(g *grant, scope []string, now time.Time) tokenResponse {
	tok := "ya29.a0" + randomToken()
	s.idp.access[tok] = &issuedToken{grant: g, scope: scope, expires: now.Add(AccessTokenLifetime)}
	return tokenResponse{
		AccessToken: tok,
		ExpiresIn:   int(AccessTokenLifetime / time.Second),
		TokenType:   "Bearer",
		Scope:       strings.Join(scope, " "),
	}
}

// handleRevoke is POST /revoke: the token's whole grant is revoked.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Bad Request")
		return
	}
	token := r.Form.Get("token") // Google also takes it in the query
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.idp.access[token]
	if t == nil {
		t = s.idp.refresh[token]
	}
	if t == nil || t.grant.revoked {
		oauthError(w, http.StatusBadRequest, "invalid_token", "Token expired or revoked")
		return
	}
	t.grant.revoked = true
	if s.idp.grants[t.grant.clientID] == t.grant {
		delete(s.idp.grants, t.grant.clientID)
	}
	s.cfg.Logger.Debug("googletest: grant revoked", "client_id", t.grant.clientID)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("{}"))
}

func tokenJSON(w http.ResponseWriter, v tokenResponse) {
	b, _ := json.Marshal(v)
	writeOAuth(w, http.StatusOK, b)
}

// oauthError answers the token and revocation endpoints' error JSON,
// {"error": code, "error_description": description}.
func oauthError(w http.ResponseWriter, status int, code, description string) {
	b, _ := json.Marshal(map[string]string{"error": code, "error_description": description})
	writeOAuth(w, status, b)
}

func writeOAuth(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// errorPage is the HTML error page the authorization endpoint shows the
// user instead of redirecting: "Error 400: redirect_uri_mismatch".
func errorPage(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>Authorization Error</title></head><body><h1>Authorization Error</h1><p>Error %d: %s</p><p>%s</p></body></html>\n",
		status, html.EscapeString(code), html.EscapeString(detail))
}

// randomToken returns 32 random bytes in URL-safe base64.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func dedupe(scope []string) []string {
	out := make([]string, 0, len(scope))
	for _, sc := range scope {
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

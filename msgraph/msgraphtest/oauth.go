package msgraphtest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync/internal/pkce"
)

// Lifetimes of the emulated Microsoft identity platform.
const (
	// AccessTokenLifetime is expires_in of an access token: 3599 seconds,
	// as in the token responses of the authorization code flow
	// (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow).
	// Real access tokens live a random 60 to 90 minutes; the emulator
	// keeps to the shortest documented value.
	AccessTokenLifetime = 3599 * time.Second

	// AuthorizationCodeLifetime is how long an authorization code may be
	// redeemed: 10 minutes ("Authorization codes are short lived,
	// typically expiring after about 10 minutes", same page).
	AuthorizationCodeLifetime = 10 * time.Minute

	// RefreshTokenInactivity is how long an unused refresh token stays
	// valid: 90 days (refresh tokens, Microsoft identity platform).
	RefreshTokenInactivity = 90 * 24 * time.Hour
)

// graphResource is the resource prefix of Graph scopes.
const graphResource = "https://graph.microsoft.com/"

// oauthState is the identity platform's state, under Server.mu.
type oauthState struct {
	clients map[string]*oauthClient
	codes   map[string]*authCode
	grants  []*grant
	refresh map[string]*refreshToken // by token
	access  map[string]*accessToken  // by token
	deny    bool
	codeN   int
	refN    int
}

type oauthClient struct {
	secret    string
	redirects []string
}

// grant is one user's consent to one client, from one sign-in: the refresh
// tokens and access tokens of that sign-in belong to it.
type grant struct {
	user, client string
	scopes       []string // normalised, see normScope
	issued       time.Time
	revoked      time.Time // zero while valid
}

type authCode struct {
	g         *grant
	redirect  string
	challenge string
	method    string
	expires   time.Time
	used      bool
}

type refreshToken struct {
	g       *grant
	issued  time.Time
	rotated bool // replaced by a newer refresh token
}

type accessToken struct {
	g       *grant
	scopes  []string
	expires time.Time
}

// OAuthEndpoint returns the authorization and token endpoints of the
// emulated Microsoft identity platform for tenant ("common",
// "organizations", "consumers", a tenant id or a domain), for an
// oauth2.Config: URL()+"/{tenant}/oauth2/v2.0/authorize" and
// URL()+"/{tenant}/oauth2/v2.0/token". Client credentials go in the body
// (oauth2.AuthStyleInParams), as for the real endpoints
// (golang.org/x/oauth2/microsoft does the same). Use [Server.Client] for
// the token requests (put it in the context under oauth2.HTTPClient), as
// it trusts the server's certificate.
func (s *Server) OAuthEndpoint(tenant string) oauth2.Endpoint {
	base := s.ts.URL + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/"
	return oauth2.Endpoint{AuthURL: base + "authorize", TokenURL: base + "token", AuthStyle: oauth2.AuthStyleInParams}
}

// RegisterClient registers an application with the identity platform:
// its client id, its secret ("" for a public client, which then sends none)
// and the redirect URIs it may use, compared exactly. Registering an id
// again replaces it.
func (s *Server) RegisterClient(id, secret string, redirectURIs ...string) {
	if id == "" {
		panic("msgraphtest: RegisterClient with empty id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.clients[id] = &oauthClient{secret: secret, redirects: slices.Clone(redirectURIs)}
}

// DenyConsent makes later sign-ins decline consent (true) or grant it
// (false, the default): the authorize endpoint then redirects with
// error=access_denied and AADSTS65004 "User declined to consent to access
// the app.".
func (s *Server) DenyConsent(deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.deny = deny
}

// RevokeGrants revokes every grant of userID, as revokeSignInSessions
// does (the user or an administrator signs the user out everywhere, or the
// password changes): its refresh tokens are refused with 400 invalid_grant
// AADSTS50173, and its access tokens with 401 InvalidAuthenticationToken at
// once. Real Graph keeps accepting an access token until it expires unless
// the client takes part in continuous access evaluation; the emulator is
// harsh. Later sign-ins get new grants.
func (s *Server) RevokeGrants(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	for _, g := range s.oauth.grants {
		if g.user == userID && g.revoked.IsZero() {
			g.revoked = now
		}
	}
}

// TokenRequests returns how many token requests arrived, by grant type:
// authorization_code and refresh_token, refused ones included.
func (s *Server) TokenRequests() (codes, refreshes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.oauth.codeN, s.oauth.refN
}

// oauthPath matches /{tenant}/oauth2/v2.0/{authorize|token}.
var oauthPath = regexp.MustCompile(`^/([^/]+)/oauth2/v2\.0/(authorize|token)/?$`)

var tenantGUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func validTenant(t string) bool {
	switch strings.ToLower(t) {
	case "common", "organizations", "consumers":
		return true
	}
	return tenantGUID.MatchString(t) || (strings.Contains(t, ".") && !strings.ContainsAny(t, " /?#"))
}

// serveOAuth serves the identity platform's endpoints; it reports false
// for any other path.
func (s *Server) serveOAuth(w http.ResponseWriter, r *http.Request) bool {
	m := oauthPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		return false
	}
	tenant, endpoint := m[1], m[2]
	if tenant == "v1.0" || tenant == "beta" {
		return false // a Graph path, answered as Graph answers unknown segments
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		s.oauthError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body could not be read.")
		return true
	}
	if !validTenant(tenant) {
		if endpoint == "authorize" {
			s.errorPage(w, 90002, fmt.Sprintf("Tenant '%s' not found.", tenant))
		} else {
			s.oauthError(w, r, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found.", tenant))
		}
		return true
	}
	if endpoint == "authorize" {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return true
		}
		s.authorize(w, r, tenant)
		return true
	}
	if r.Method != http.MethodPost {
		s.oauthError(w, r, http.StatusMethodNotAllowed, "invalid_request", 900561,
			"The endpoint only accepts POST requests. Received a "+r.Method+" request.")
		return true
	}
	s.token(w, r)
	return true
}

// normScopes splits a scope parameter and drops Graph's resource prefix:
// "https://graph.microsoft.com/Calendars.Read offline_access" becomes
// [Calendars.Read offline_access].
func normScopes(scope string) []string {
	var out []string
	for _, sc := range strings.Fields(scope) {
		if len(sc) > len(graphResource) && strings.EqualFold(sc[:len(graphResource)], graphResource) {
			sc = sc[len(graphResource):]
		}
		if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, sc) }) {
			out = append(out, sc)
		}
	}
	return out
}

func hasScope(scopes []string, names ...string) bool {
	for _, sc := range scopes {
		for _, n := range names {
			if strings.EqualFold(sc, n) {
				return true
			}
		}
	}
	return false
}

// oidcScopes are granted with every sign-in and not listed in the scope of
// a token response.
var oidcScopes = []string{"openid", "profile", "email", "offline_access"}

// grantedScope is the scope of a token response: the Graph scopes with
// their resource prefix, as the identity platform answers
// ("https://graph.microsoft.com/Calendars.Read").
func grantedScope(scopes []string) string {
	var out []string
	for _, sc := range scopes {
		if !hasScope(oidcScopes, sc) {
			out = append(out, graphResource+sc)
		}
	}
	return strings.Join(out, " ")
}

// authorize serves GET /{tenant}/oauth2/v2.0/authorize: the user signs in
// and consents at once, and the browser is redirected to redirect_uri with
// a code (or an error) and the state.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, tenant string) {
	q := r.Form
	clientID, redirect := q.Get("client_id"), q.Get("redirect_uri")
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.oauth.clients[clientID]
	if c == nil {
		s.errorPage(w, 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant))
		return
	}
	if redirect == "" && len(c.redirects) > 0 {
		redirect = c.redirects[0]
	}
	if !slices.Contains(c.redirects, redirect) {
		s.errorPage(w, 50011, fmt.Sprintf("The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.", redirect, clientID))
		return
	}
	back := func(v url.Values) {
		if st := q.Get("state"); st != "" {
			v.Set("state", st)
		}
		u, _ := url.Parse(redirect)
		uq := u.Query()
		for k, vs := range v {
			uq[k] = vs
		}
		u.RawQuery = uq.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	fail := func(code string, aadsts int, desc string) {
		back(url.Values{"error": {code}, "error_description": {fmt.Sprintf("AADSTS%d: %s", aadsts, desc)}})
	}
	if rt := q.Get("response_type"); rt != "code" {
		fail("unsupported_response_type", 700054, fmt.Sprintf("response_type '%s' is not enabled for the application.", rt))
		return
	}
	scopes := normScopes(q.Get("scope"))
	if len(scopes) == 0 {
		fail("invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge != "" && method == "" {
		method = "plain"
	}
	if method != "" && method != "S256" && method != "plain" {
		fail("invalid_request", 5000, "The code_challenge_method is not supported. Supported values are 'S256' and 'plain'.")
		return
	}
	user := s.signInLocked(q.Get("login_hint"))
	if user == "" {
		fail("invalid_request", 50020, "No user account exists in the emulated tenant; add one with AddUser.")
		return
	}
	if s.oauth.deny {
		fail("access_denied", 65004, "User declined to consent to access the app.")
		return
	}
	code := "1.AQ" + randToken(48)
	s.oauth.codes[code] = &authCode{
		g:         &grant{user: user, client: clientID, scopes: scopes, issued: s.cfg.Now()},
		redirect:  redirect,
		challenge: challenge,
		method:    method,
		expires:   s.cfg.Now().Add(AuthorizationCodeLifetime),
	}
	s.cfg.Logger.Debug("msgraphtest: authorization code issued", "client", clientID, "user", user)
	back(url.Values{"code": {code}})
}

// signInLocked returns the user whose id or address is hint, else the
// first user.
func (s *Server) signInLocked(hint string) string {
	for _, id := range s.userOrder {
		if hint != "" && (strings.EqualFold(id, hint) || strings.EqualFold(organizerAddress(id), hint)) {
			return id
		}
	}
	if len(s.userOrder) > 0 {
		return s.userOrder[0]
	}
	return ""
}

// errorPage is the identity platform's answer to an authorization request
// it cannot redirect: an HTML page, no redirect.
func (s *Server) errorPage(w http.ResponseWriter, aadsts int, desc string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body><h1>Sorry, but we're having trouble signing you in.</h1><p>AADSTS%d: %s</p></body></html>", aadsts, html.EscapeString(desc))
}

// tokenResponse is a successful token response.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// token serves POST /{tenant}/oauth2/v2.0/token.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	gt := f.Get("grant_type")
	switch gt {
	case "authorization_code":
		s.oauth.codeN++
	case "refresh_token":
		s.oauth.refN++
	case "":
		s.oauthError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	default:
		s.oauthError(w, r, http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", gt))
		return
	}
	clientID, secret := f.Get("client_id"), f.Get("client_secret")
	if id, sec, ok := r.BasicAuth(); ok {
		clientID, secret = id, sec
	}
	c := s.oauth.clients[clientID]
	if c == nil {
		s.oauthError(w, r, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory.", clientID))
		return
	}
	if c.secret != "" && secret == "" {
		s.oauthError(w, r, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	}
	if c.secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(c.secret)) != 1 {
		s.oauthError(w, r, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
		return
	}
	now := s.cfg.Now()
	var g *grant
	scopes := []string(nil)
	if gt == "authorization_code" {
		code := s.oauth.codes[f.Get("code")]
		switch {
		case f.Get("code") == "":
			s.oauthError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'code'.")
			return
		case code == nil:
			s.oauthError(w, r, http.StatusBadRequest, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
			return
		case code.used:
			s.oauthError(w, r, http.StatusBadRequest, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
			return
		case !now.Before(code.expires):
			s.oauthError(w, r, http.StatusBadRequest, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
			return
		case code.g.client != clientID:
			s.oauthError(w, r, http.StatusBadRequest, "invalid_grant", 70000, "The provided value for the 'code' parameter is not valid. The code was issued to another client.")
			return
		case f.Get("redirect_uri") != code.redirect:
			s.oauthError(w, r, http.StatusBadRequest, "invalid_grant", 70000, "The provided value for the 'redirect_uri' is not valid. The value must exactly match the redirect URI used to obtain the authorization code.")
			return
		case code.challenge != "" && !pkce.Matches(code.method, code.challenge, f.Get("code_verifier")):
			s.oauthError(w, r, http.StatusBadRequest, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
			return
		}
		code.used = true
		g = code.g
		s.oauth.grants = append(s.oauth.grants, g)
		scopes = g.scopes
	} else {
		raw := f.Get("refresh_token")
		rt := s.oauth.refresh[raw]
		switch {
		case raw == "":
			s.oauthError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'refresh_token'.")
			return
		case rt == nil:
			s.oauthError(w, r, http.StatusBadRequest, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
			return
		case rt.g.client != clientID:
			s.oauthError(w, r, http.StatusBadRequest, "invalid_grant", 70000, "The provided value for the 'refresh_token' parameter is not valid. The token was issued to another client.")
			return
		case !rt.g.revoked.IsZero():
			s.oauthError(w, r, http.StatusBadRequest, "invalid_grant", 50173, fmt.Sprintf("The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '%s' and the TokensValidFrom date (before which tokens are not valid) for this user is '%s'.", rt.g.issued.UTC().Format(time.RFC3339Nano), rt.g.revoked.UTC().Format(time.RFC3339Nano)))
			return
		case rt.rotated && !s.cfg.AcceptRotatedRefreshTokens:
			s.oauthError(w, r, http.StatusBadRequest, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
			return
		case !now.Before(rt.issued.Add(RefreshTokenInactivity)):
			s.oauthError(w, r, http.StatusBadRequest, "invalid_grant", 700082, fmt.Sprintf("The refresh token has expired due to inactivity. The token was issued on %s and was inactive for 90.00:00:00.", rt.issued.UTC().Format(time.RFC3339Nano)))
			return
		}
		g = rt.g
		scopes = g.scopes
		if asked := normScopes(f.Get("scope")); len(asked) > 0 {
			for _, sc := range asked {
				if !hasScope(g.scopes, sc) && !hasScope(oidcScopes, sc) {
					s.oauthError(w, r, http.StatusBadRequest, "invalid_grant", 65001, fmt.Sprintf("The user or administrator has not consented to use the application with ID '%s'. Send an interactive authorization request for this user and resource.", clientID))
					return
				}
			}
			scopes = asked
		}
		rt.rotated = true
	}
	resp := tokenResponse{
		TokenType:    "Bearer",
		Scope:        grantedScope(scopes),
		ExpiresIn:    int(AccessTokenLifetime / time.Second),
		ExtExpiresIn: int(AccessTokenLifetime / time.Second),
		AccessToken:  "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + randToken(96),
	}
	s.oauth.access[resp.AccessToken] = &accessToken{g: g, scopes: scopes, expires: now.Add(AccessTokenLifetime)}
	if hasScope(g.scopes, "offline_access") {
		resp.RefreshToken = "1.AQ" + randToken(120)
		s.oauth.refresh[resp.RefreshToken] = &refreshToken{g: g, issued: now}
	}
	s.cfg.Logger.Debug("msgraphtest: token issued", "grant_type", gt, "client", clientID, "user", g.user)
	body, _ := json.Marshal(resp)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// oauthError answers with the identity platform's error body:
//
//	{"error":"invalid_grant","error_description":"AADSTS70008: ...\r\nTrace ID: ...\r\nCorrelation ID: ...\r\nTimestamp: ...",
//	 "error_codes":[70008],"timestamp":"2024-01-02 03:04:05Z","trace_id":"...","correlation_id":"...",
//	 "error_uri":"https://login.microsoftonline.com/error?code=70008"}
func (s *Server) oauthError(w http.ResponseWriter, r *http.Request, status int, code string, aadsts int, desc string) {
	trace := s.guidLocked()
	corr := r.Header.Get("client-request-id")
	if corr == "" {
		corr = s.guidLocked()
	}
	ts := s.cfg.Now().UTC().Format("2006-01-02 15:04:05Z")
	body, _ := json.Marshal(map[string]any{
		"error": code,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
			aadsts, desc, trace, corr, ts),
		"error_codes":    []int{aadsts},
		"timestamp":      ts,
		"trace_id":       trace,
		"correlation_id": corr,
		"error_uri":      "https://login.microsoftonline.com/error?code=" + strconv.Itoa(aadsts),
	})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// randToken returns n random base64url characters' worth of a token.
func randToken(n int) string {
	b := make([]byte, n*3/4)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Scopes the API checks for tokens the identity platform issued.
var (
	readScopes  = []string{"Calendars.Read", "Calendars.ReadWrite", "Calendars.Read.Shared", "Calendars.ReadWrite.Shared"}
	writeScopes = []string{"Calendars.ReadWrite", "Calendars.ReadWrite.Shared"}
	mboxScopes  = []string{"MailboxSettings.Read", "MailboxSettings.ReadWrite"}
)

// authenticateIssuedLocked checks a token the identity platform issued:
// it reports whether token is one, and the error for an expired or
// revoked one.
func (s *Server) authenticateIssuedLocked(token string, req *request) (bool, *apiError) {
	at := s.oauth.access[token]
	if at == nil {
		return false, nil
	}
	if !at.g.revoked.IsZero() {
		return true, newAPIError(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. The token was revoked.")
	}
	if !s.cfg.Now().Before(at.expires) {
		return true, newAPIError(http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
	}
	req.me = at.g.user
	req.scopes = at.scopes
	req.issued = true
	return true, nil
}

// permit checks the scopes of an issued token for op: reading calendars,
// events and subscriptions needs a Calendars scope, writing events
// Calendars.ReadWrite, mailbox settings a MailboxSettings scope. Tokens
// the identity platform did not issue may do anything.
func permit(req *request, op string) *apiError {
	if !req.issued {
		return nil
	}
	var ok bool
	switch op {
	case OpCreateEvent, OpUpdateEvent, OpDeleteEvent:
		ok = hasScope(req.scopes, writeScopes...)
	case OpGetMailboxSettings:
		ok = hasScope(req.scopes, mboxScopes...)
	default:
		ok = hasScope(req.scopes, readScopes...)
	}
	if ok {
		return nil
	}
	return newAPIError(http.StatusForbidden, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
}

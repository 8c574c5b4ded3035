// Package connect serves the OAuth 2.0 connect flow that gives calsync an
// account's calendars: [Flow.Start] sends the host's signed-in user to the
// provider's consent page (authorization code with PKCE, offline access),
// [Flow.Callback] exchanges the code, stores the token sealed through
// package vault, marks the account active in the Engine (resuming its
// calendars if the provider had refused its grant), lists its calendars
// and hands them to the host to choose from (or connects the primary one).
//
//	flow, err := connect.New(connect.Config{
//		Engine: engine, Vault: v, Tokens: store,
//		Providers: []connect.Provider{
//			connect.Google(google.Name, oauth2.Config{ClientID: id, ClientSecret: secret,
//				Endpoint: endpoints.Google, RedirectURL: base + "/connect/callback"}, false),
//		},
//		User: func(r *http.Request) (string, error) { return sessionUser(r) },
//		Done: func(w http.ResponseWriter, r *http.Request, res connect.Result) { showPicker(w, res) },
//	})
//	mux.Handle("GET /connect/start", flow.Start())       // ?provider=google
//	mux.Handle("GET /connect/callback", flow.Callback())
//
// # State
//
// The state parameter is the flow's record itself, sealed with the Vault
// (AES-GCM): the user who started it, the provider, the PKCE verifier and
// a deadline (Config.StateTTL, 10 minutes by default). Nothing is stored
// until the callback, so any instance can finish a flow another started.
// The callback opens it, requires the signed-in user to be the one who
// started it (compared in constant time), and spends it: a lease on the
// Store (every instance sees it), or a table in this process without
// leases. A state that is malformed, not sealed by this Vault, expired,
// spent or of another user fails with [ErrBadState].
//
// # Errors and secrets
//
// A denied consent ([ErrDenied]), a bad state ([ErrBadState]) and a failed
// exchange ([ErrExchange]) each give the end user a plain page
// (Config.Failed, [UserMessage]) and the host an error. No code, token,
// verifier or state value ever appears in a log, an error or a page: an
// exchange error keeps only the OAuth error code.
//
// # Tokens afterwards
//
// The stored token is read back by vault's token sources, which refresh it
// and store refreshed (and rotated) tokens. Re-running the flow for an
// account stores the new token and resumes the account
// (calsync.Engine.ResumeAccount).
package connect

// Package googletest provides an in-process emulator of the Google Calendar
// API v3 (the events and channels subset a sync engine needs) and of its push
// channels, for tests, the way net/http/httptest provides test servers.
//
// The unmodified official client google.golang.org/api/calendar/v3 works
// against it:
//
//	srv := googletest.NewServer(googletest.Config{})
//	defer srv.Close()
//	srv.AddCalendar("alice@example.com", "Europe/Berlin")
//	svc, err := calendar.NewService(ctx,
//		option.WithEndpoint(srv.Endpoint()),
//		option.WithHTTPClient(srv.Client()))
//
// Every behaviour follows Google's documentation (the push guide
// https://developers.google.com/workspace/calendar/api/guides/push,
// the sync guide https://developers.google.com/workspace/calendar/api/guides/sync,
// the error guide https://developers.google.com/workspace/calendar/api/guides/errors
// and the API reference) and responses recorded from the real service;
// where Google documents nothing the emulator's choice is stated in the
// documentation of the method or constant concerned.
//
// # Endpoints
//
// Under [Server.Endpoint] (URL()+"/calendar/v3/"):
//
//   - GET calendars/{calendarId}/events (events.list)
//   - POST calendars/{calendarId}/events (events.insert)
//   - POST calendars/{calendarId}/events/import (events.import)
//   - GET, PATCH, PUT, DELETE calendars/{calendarId}/events/{eventId}
//     (events.get, events.patch, events.update, events.delete)
//   - GET calendars/{calendarId}/events/{eventId}/instances (events.instances,
//     one page)
//   - POST calendars/{calendarId}/events/watch (events.watch)
//   - POST channels/stop (channels.stop)
//   - GET users/me/calendarList (calendarList.list) and
//     GET users/me/calendarList/{calendarId} (calendarList.get)
//
// and under [Server.URL] the identity provider's GET /o/oauth2/auth,
// POST /token and POST /revoke (see Identity provider).
//
// Every API request needs "Authorization: Bearer <token>", else 401
// authError. A token issued by the identity provider must be live (see
// below); any other non-empty token is accepted until revoked with
// [Server.RevokeToken] or [Server.RevokeAll], so tests can use static
// tokens ([Server.Client] sends one). Errors use Google's
// envelope {"error":{"errors":[...],"code":N,"message":"..."}}. The keyword
// "primary" names the first calendar added with [Server.AddCalendar].
//
// # Calendar list
//
// Every calendar added with [Server.AddCalendar] is an entry of the
// calendar list, in the order added, with Google's resource shape (kind
// calendar#calendarListEntry, etag, id, summary, summaryOverride when set,
// timeZone, colorId, backgroundColor, foregroundColor, selected,
// accessRole, defaultReminders, conferenceProperties, primary). The first
// calendar is primary; by default an entry's summary is its id, its role
// "owner" and its colour colorId "14" (#9fe1e7 on #000000), and
// [Server.SetCalendarInfo] changes them. A deleted calendar, or one whose
// access was revoked ([Server.RevokeCalendarAccess]), leaves the list
// (calendarList.get answers 404). calendarList.list pages by maxResults
// (default [DefaultCalendarListPageSize], at most
// [MaxCalendarListPageSize]) and honours minAccessRole; it issues no
// nextSyncToken, and a syncToken gets 410.
//
// # Identity provider
//
// The server is also an OAuth 2.0 authorization server that behaves like
// Google's (https://developers.google.com/identity/protocols/oauth2/web-server),
// for the authorization-code flow with PKCE and offline access, so a whole
// connect flow runs with the unmodified golang.org/x/oauth2 client:
//
//	srv.RegisterClient(id, secret, "https://app.example.com/callback")
//	conf := &oauth2.Config{ClientID: id, ClientSecret: secret,
//		Endpoint: srv.OAuthEndpoint(), RedirectURL: "https://app.example.com/callback",
//		Scopes: []string{googletest.ScopeCalendar}}
//	u := conf.AuthCodeURL(state, oauth2.AccessTypeOffline, oauth2.S256ChallengeOption(verifier))
//	// GET u answers 302 to the callback with code, state and scope
//	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
//
// There is one user, who is signed in and consents at once.
// GET /o/oauth2/auth checks, in this order: an unknown client_id is a 401
// HTML page "invalid_client" and a redirect_uri not registered exactly
// ([Server.RegisterClient]) a 400 page "redirect_uri_mismatch", neither
// redirecting, as Google does; then a response_type other than "code"
// redirects with error=unsupported_response_type (RFC 6749 4.1.2.1; what
// Google shows is unconfirmed); a missing scope is a 400 page
// "invalid_request" ("Missing required parameter: scope", as recorded from
// Google); a refusal ([Server.DenyConsent]) redirects with
// error=access_denied. state is echoed unchanged. code_challenge_method may
// be S256 or plain (the default when only code_challenge is given).
//
// POST /token takes client credentials in the form or as HTTP Basic (401
// invalid_client otherwise). grant_type=authorization_code: a code is good
// once (any exchange spends it) and for [AuthCodeLifetime] by
// [Config.Now], for the client it was issued to, with the redirect_uri of
// its authorization request (else 400 redirect_uri_mismatch) and, if a
// code_challenge was sent, the matching code_verifier; any other failure is
// 400 invalid_grant. The answer is {access_token, expires_in: 3599,
// token_type: "Bearer", scope, refresh_token}, the refresh token only for
// access_type=offline on the client's first consent or with
// prompt=consent, as Google does. grant_type=refresh_token answers a new
// access token and no refresh_token (Google does not rotate them); a
// revoked or unknown refresh token is 400 invalid_grant "Token has been
// expired or revoked.". Answers carry Cache-Control no-store.
// [Server.TokenRequests] counts the requests by grant type.
//
// POST /revoke (form field token, an access or refresh token) revokes the
// token's whole grant: 200, or 400 invalid_token for a token it does not
// know. [Server.RevokeGrants] revokes every grant, as when the user
// withdraws access at myaccount.google.com; a consent after that counts as
// a first one. A token of a revoked grant gets 401 authError at the API,
// and so does an access token [AccessTokenLifetime] (3599 s) after it was
// issued, by [Config.Now]. Since golang.org/x/oauth2 computes expiry with
// the real clock, a client on a fake clock keeps sending an expired token
// and gets 401, as a client with a skewed clock does on Google.
//
// Scopes are recorded: a token whose scopes include neither [ScopeCalendar]
// nor [ScopeCalendarEvents] gets 403 insufficientPermissions ("Request had
// insufficient authentication scopes.") on events.insert, import, patch,
// update and delete, and a token with no Calendar scope on every call.
// Tokens not issued by the identity provider are never checked for scopes
// or expiry. Secrets (codes, tokens, client secrets, verifiers) are never
// logged.
//
// # Sync tokens and the change log
//
// Each calendar keeps a change log: every write stamps the rows it changes
// with the calendar's next sequence number, and a deletion leaves a
// tombstone (status "cancelled"; only kind, etag, id, status and updated,
// plus recurringEventId and originalStartTime for instances). A full list
// (no syncToken) returns the current events in id order (or orderBy order),
// paged by page tokens that remember where the listing started; the last
// page's nextSyncToken is that starting point, so a change made while a
// client pages is never missed: it appears in the next incremental list.
// An incremental list (syncToken) returns every row changed since the token,
// tombstones included, paged the same way; its page tokens only work with the
// same query. Tokens are opaque and checked: a malformed one is 400 invalid,
// a sync token invalidated by [Server.ExpireSyncTokens] (or issued by
// another Server) is 410 fullSyncRequired or 400 invalid "Invalid sync
// token value.", as Google answers both ([Config.StaleSyncToken]; random by
// default), and such a page token is 410. A sync token remembers
// singleEvents; using it with the other value is 400 (Google calls that
// undefined behaviour).
//
// # Event members
//
// An event keeps the members a client writes (summary, description,
// location, transparency, visibility, attendees, extendedProperties, ...)
// and returns them with the server's own: kind, etag, id, htmlLink,
// created, updated, creator, organizer, iCalUID, and hangoutLink. The server
// checks transparency (opaque, transparent), visibility (default, public,
// private, confidential) and attendees (an email address each, 400
// "Missing attendee email." or "Invalid attendee email." otherwise);
// responseStatus defaults to needsAction, resource can only be set when an
// attendee is added, and organizer and self are computed: self marks the
// calendar's own entry, organizer the organizer's. The organizer is the
// calendar (self true), except for events.import, which requires iCalUID
// and takes the organizer from the body. conferenceData is read only with
// conferenceDataVersion=1, as on Google (with 0, the default, the event
// keeps the conference it had); a createRequest of type hangoutsMeet
// creates a Google Meet conference at once (status "success"; Google does
// it asynchronously), and a Meet conference's video entry point is the
// event's hangoutLink. [Server.InsertEvent] behaves as events.insert with
// conferenceDataVersion=1.
//
// # Recurring events
//
// A recurrence holds RFC 5545 RRULE, EXRULE, RDATE and EXDATE lines, as
// the Events reference says: any FREQ and BYxxx part (monthly, yearly,
// BYMONTHDAY, BYSETPOS, ...), expanded by package
// [github.com/calsync/calsync/recur] in the start's time zone; a line of
// another kind, or one RFC 5545 cannot read, is rejected with 400.
// Instances are materialised when the series is
// written (at most [MaxInstances], within [ExpansionHorizon]) with Google's
// ids: <seriesId>_<yyyymmddTHHMMSSZ> (timed, UTC) or <seriesId>_<yyyymmdd>
// (all-day). Writing an instance id (patch, update, delete) turns it into an
// exception that keeps its own fields; singleEvents=false lists it beside
// its series, and a cancelled exception of a live series is listed even with
// showDeleted=false, as Google does. Deleting a series cancels all its
// instances.
//
// # Push channels
//
// events.watch validates the channel (id at most 64 characters, type
// web_hook or webhook, an https address unless [Config.AllowHTTP], token at
// most 256 characters, a live id may not be reused) and answers expiration as
// a JSON string of milliseconds, clamped to [Config.MaxTTL]. A "sync"
// message (number 1) is delivered right away, and every change to the
// calendar's events sends "exists" to each live channel: an empty POST with
// the X-Goog-* headers, User-Agent [PushUserAgent], and message numbers that
// increase but are not consecutive. As on Google, one change may cause
// several pushes: 1 to [Config.MaxPushesPerChange] (default 3), each with a
// message number of its own, chosen at random from [Config.Seed]. 500, 502,
// 503 and 504 are retried ([Config.PushRetries]). A channel's pushes are
// delivered one at a time in order, asynchronously.
//
// channels.stop does not silence a channel at once. A stopped channel still
// receives the pushes of changes made within [Config.StopGrace] (default
// [DefaultStopGrace], measured with [Config.Now], so a fake clock drives
// it). The pushes it had queued, or was retrying, when the stop came are
// dropped when their turn comes, unless [Config.DeliverQueuedAfterStop]: a
// change announced only on a channel that a renewal stops before its push
// goes out is never delivered. [Server.PauseNotifications] and
// [Server.ResumeNotifications] put a stop between a change and its push
// deterministically. Both cases are logged in [Server.Deliveries] with
// Stopped set.
//
// # Harsh by default
//
// The zero Config is at least as harsh as Google: a client
// that survives it survives the real service. By default
//
//   - one change sends 1 to 3 pushes per channel ([Config.MaxPushesPerChange]);
//   - a stale sync token gets 400 invalid or 410 at random
//     ([Config.StaleSyncToken]);
//   - a stopped channel receives pushes for [DefaultStopGrace] more
//     ([Config.StopGrace]), and drops those it had queued
//     ([Config.DeliverQueuedAfterStop]);
//   - the random choices follow [Config.Seed], so a failing run reproduces.
//
// Tests that count pushes or calls exactly set [Config.Exact]: one push per
// change, 410 for a stale token, no push after stop (explicit values of the
// knobs still win).
//
// # Faults
//
// Knobs reproduce what the real service does to clients: [Server.Fail] and
// [Server.FailNext] (rate limits, 5xx, any error; [Fault.RetryAfterIn]
// dates Retry-After from the moment of failure), [Server.SetLatency],
// [Server.ExpireSyncTokens], [Server.RevokeToken] and [Server.RevokeAll],
// [Server.RevokeGrants] and [Server.DenyConsent],
// [Server.DeleteCalendar] and [Server.RevokeCalendarAccess] (a calendar
// refused for good: 404, or a 403 that is not a rate limit), and for
// notifications [Server.DropNextNotifications],
// [Server.DuplicateNextNotifications], [Server.DelayNotifications],
// [Server.ReorderNotifications] and [Server.PauseNotifications].
// [Server.WaitIdle] waits until every notification has been delivered, and
// [Server.Deliveries] logs every attempt, so tests need no sleeps.
//
// # Inspecting state
//
// [Server.Events] returns what a client's copy should hold after a sync, and
// [Server.Channels] the live channels, both as copies. [Server.Requests]
// logs every API call (operation, calendar, status) and
// [Server.RequestCount] counts them, so tests count calls without a proxy.
// [Server.InsertEvent] seeds events without HTTP.
//
// # Limitations
//
// Not emulated: calendarList writes, calendarList sync tokens and
// showHidden/showDeleted, acl and settings (including their watch
// methods), the identity provider's other flows (device, installed-app
// loopback, service accounts, ID tokens, include_granted_scopes), events.move, events.quickAdd, batch requests,
// If-Match and If-None-Match, the "not_exists" resource state, and the
// timeZone, maxAttendees and alwaysIncludeEmail list parameters (accepted
// and ignored, as are the list parameters events.watch accepts). Sync tokens
// expire only through [Server.ExpireSyncTokens], never by age, and
// tombstones are kept forever. An exception keeps its own copy of the event
// and does not follow later edits of its series. The sequence member is
// never incremented by the server. Behaviour Google does not document, such
// as the status of a successful channels.stop (204 here) or the answer to a
// malformed sync token (400 here), is the emulator's choice and is noted
// where it applies.
package googletest

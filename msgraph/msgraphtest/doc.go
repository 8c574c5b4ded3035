// Package msgraphtest provides an in-process emulator of Microsoft Graph
// v1.0 change notifications for Outlook events — subscriptions, the
// validation handshake, change and lifecycle notifications — and of event
// delta queries, for tests, the way net/http/httptest provides test servers.
//
// The unmodified msgraph-sdk-go client works against it:
//
//	srv := msgraphtest.NewServer(msgraphtest.Config{})
//	defer srv.Close()
//	srv.AddUser("alice")
//	opts := msgraphsdk.GetDefaultClientOptions()
//	hc := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(
//		srv.Client().Transport, msgraphcore.GetDefaultMiddlewaresWithOptions(&opts)...)}
//	adapter, _ := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
//		authentication.NewBaseBearerTokenAuthenticationProvider(staticToken("t")), nil, nil, hc)
//	adapter.SetBaseUrl(srv.URL() + "/v1.0")
//	client := msgraphsdk.NewGraphServiceClient(adapter)
//
// The server speaks TLS (Graph is HTTPS only); [Server.Client] trusts its
// certificate. Keep Graph's default middleware in the SDK's client: it
// rewrites the SDK's "/users/me-token-to-replace" paths to "/me" (without
// it every Me() call is 404 here, as it would be against Graph), and it
// gzips request bodies, which the emulator accepts like Graph does.
//
// Every behaviour follows Microsoft's documentation (change notifications
// through webhooks, https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks;
// lifecycle notifications, https://learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events;
// delta query for events, https://learn.microsoft.com/en-us/graph/delta-query-events;
// errors and throttling) and responses recorded from the live service;
// where Microsoft documents nothing the emulator's choice is stated on the
// method or constant concerned.
//
// # Endpoints
//
// Under URL()+"/v1.0" (and "/beta"):
//
//   - POST /subscriptions, GET /subscriptions, GET, PATCH, DELETE
//     /subscriptions/{id}, POST /subscriptions/{id}/reauthorize (204)
//   - GET {owner}/calendarView/delta, {owner}/calendar/calendarView/delta
//     and {owner}/calendars/{id}/calendarView/delta, where {owner} is /me
//     or /users/{id}; "delta()" as msgraph-sdk-go writes it works too.
//     Microsoft's v1.0 reference documents only the {owner}/calendarView
//     form, so under /v1.0 the calendar forms answer 400 BadRequest
//     "Unsupported request: Change tracking is not supported against
//     'microsoft.graph.event'." unless [Config.AllowCalendarDeltaV1]; /beta,
//     which documents them, serves them.
//   - GET {owner}/events/delta (and the calendar forms) only under /beta:
//     events delta is beta-only, so v1.0 answers the same 400.
//   - POST {owner}/events, GET, PATCH, DELETE {owner}/events/{id} (and the
//     calendar forms), so that clients can write too.
//   - GET {owner}/calendars: the calendar resources (id, name, color,
//     hexColor, isDefaultCalendar, changeKey, canShare, canViewPrivateItems,
//     canEdit, allowedOnlineMeetingProviders, defaultOnlineMeetingProvider,
//     isTallyingResponses, isRemovable, owner), the primary calendar first,
//     in pages of $top (default [DefaultPageSize]) linked by
//     @odata.nextLink with $skip. [Server.SetCalendar] changes a calendar's
//     name, colours, canEdit and owner; [Server.DeleteCalendar] removes it.
//   - GET {owner}/mailboxSettings, whose timeZone is [DefaultTimeZone]
//     (Windows format, Graph's default) until [Server.SetTimeZone].
//
// Every request needs "Authorization: Bearer <token>" with any non-empty
// token that was not revoked, else 401 InvalidAuthenticationToken. "me" is
// the signed-in user of a token the identity platform issued (see below),
// else the user mapped to the token by [Server.MapToken], else the first
// user added. Errors use Graph's envelope
// {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}.
//
// # Identity platform
//
// The server is also a Microsoft identity platform (OAuth 2.0 v2.0,
// authorization code flow with PKCE,
// https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow),
// so that a whole connect flow runs without internet with the unmodified
// golang.org/x/oauth2 client (see the example of [Server.OAuthEndpoint]):
//
//	srv.RegisterClient("client-id", "secret", "https://app.example/callback")
//	conf := &oauth2.Config{ClientID: "client-id", ClientSecret: "secret",
//		Endpoint: srv.OAuthEndpoint("common"), RedirectURL: "https://app.example/callback",
//		Scopes: []string{"offline_access", "https://graph.microsoft.com/Calendars.ReadWrite"}}
//	verifier := oauth2.GenerateVerifier()
//	// GET conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)) with
//	// srv.Client(): 302 to the callback with code and state.
//	ctx := context.WithValue(ctx, oauth2.HTTPClient, srv.Client())
//	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
//
// GET {tenant}/oauth2/v2.0/authorize ({tenant} is common, organizations,
// consumers, a tenant id or a domain) signs in the user whose id or
// address (id@contoso.onmicrosoft.com) is login_hint, else the first user,
// consents at once and redirects to redirect_uri with code and state. An
// unknown client_id (AADSTS700016) or a redirect_uri not registered exactly
// (AADSTS50011) is an error page without redirect; [Server.DenyConsent]
// makes it redirect with error=access_denied (AADSTS65004). Scopes may
// carry Graph's resource prefix or not.
//
// POST {tenant}/oauth2/v2.0/token redeems a code once, within
// [AuthorizationCodeLifetime] by [Config.Now], with the same redirect_uri,
// the client's secret (else 401 invalid_client AADSTS7000215) and the PKCE
// code_verifier (else invalid_grant AADSTS501481); or a refresh token. It
// answers token_type, scope (Graph scopes with their resource), expires_in
// 3599, ext_expires_in, access_token and, when offline_access was asked
// for, refresh_token. Every refresh returns a new refresh token, as
// Microsoft's does, and by default the one it replaces is refused
// afterwards with invalid_grant AADSTS70008: Microsoft may accept a
// replaced refresh token for a while, but documents no such grace, so a
// client must keep the newest; [Config.AcceptRotatedRefreshTokens] keeps
// old ones valid. [Server.RevokeGrants] revokes a user's grants, as
// revokeSignInSessions does: refresh is invalid_grant AADSTS50173 and the
// grant's access tokens are 401 at once. Errors carry error,
// error_description ("AADSTSnnnn: ..."), error_codes, timestamp, trace_id
// and correlation_id. [Server.TokenRequests] counts token requests by grant
// type; requests to the identity platform are not in [Server.Requests],
// and no fault, latency or concurrency limit applies to them.
//
// An access token the identity platform issued stands for its signed-in
// user and expires after expires_in by [Config.Now] (then 401
// InvalidAuthenticationToken). Its scopes are checked: reading calendars,
// events, delta and subscriptions needs a Calendars scope; writing events
// Calendars.ReadWrite; mailboxSettings MailboxSettings.Read; else 403
// ErrorAccessDenied "Access is denied. Check credentials and try again.".
// Tokens the identity platform did not issue keep working as before: any
// non-empty token, with every permission.
//
// # Event properties
//
// Events carry the properties calendarView delta returns
// (https://learn.microsoft.com/en-us/graph/api/resources/event). Clients
// write subject, body (contentType text or html; bodyPreview is its text,
// at most 255 characters), start, end, isAllDay, location, showAs (free,
// tentative, busy, oof, workingElsewhere, unknown; default busy),
// sensitivity (normal, personal, private, confidential; default normal),
// attendees (type required, optional or resource, and emailAddress),
// isOnlineMeeting and onlineMeetingProvider, and recurrence; enum members
// are read case-insensitively, and an unknown one is 400. The server sets
// the rest: attendees' status (response "none" until the attendee
// answers; a request cannot set it, the Go methods can, to play an
// answer, and status.time dates each answer), organizer (the mailbox
// owner) with isOrganizer true and responseStatus "organizer", webLink
// with the id URL-encoded, and, once isOnlineMeeting is set, a Teams
// onlineMeeting.joinUrl it keeps even if isOnlineMeeting is turned off, as
// Graph does. An invitation from someone else (isOrganizer false, the
// owner's responseStatus "notResponded", "tentativelyAccepted", ...) is
// made with [Server.CreateEvent] and [Event].Organizer; Graph offers no
// request that writes one. Occurrences carry their master's properties.
//
// # Subscriptions
//
// POST /subscriptions checks changeType (created, updated, deleted, comma
// separated), notificationUrl and lifecycleNotificationUrl (https unless
// [Config.AllowHTTP]), clientState (at most 128 characters),
// expirationDateTime (required, in the future, at most
// [Config.MaxSubscriptionLifetime] ahead, default 10,070 minutes; beyond
// that 400 ExtensionError "Subscription expiration can only be 10070
// minutes in the future.") and resource. Accepted resources (optional
// leading "/", case-insensitive):
//
//	me/events                          users/{id}/events                  every calendar of the mailbox
//	me/calendar/events                 users/{id}/calendar/events         the primary calendar
//	me/calendars/{id}/events           users/{id}/calendars/{id}/events   that calendar
//
// It then validates notificationUrl and lifecycleNotificationUrl: a POST
// with ?validationToken=<url-encoded token> and Content-Type text/plain
// that must be answered with 200, Content-Type text/plain and the decoded
// token as the whole body within [Config.ValidationTimeout]; otherwise the
// create fails with 400 InvalidRequest "Subscription validation request
// failed. ..." (or "Subscription validation request timed out.", which
// [Server.TimeOutNextValidations] injects). PATCH renews with the same
// ceiling ([Server.SetMaxSubscriptionLifetime] lowers it); PATCH and
// reauthorize validate the URLs again, as Graph does, unless
// [Config.ValidateOnCreateOnly]. Unknown or expired ids are 404
// ResourceNotFound. A deleted subscription still receives change
// notifications for [Config.DeletedSubscriptionLinger].
//
// # Notifications
//
// Every write to events (Go methods or REST) POSTs to each live
// subscription covering the calendar whose changeType matches a
// changeNotificationCollection {"value":[...]} with subscriptionId,
// subscriptionExpirationDateTime, changeType, resource
// ("Users/{user}/Events/{id}"), resourceData (@odata.type
// "#Microsoft.Graph.Event", @odata.id, @odata.etag, id), clientState and
// tenantId. Notifications for one URL are collected for
// [Config.BatchWindow] and sent as one POST; [Server.Flush] sends at once.
// A 2xx within [Config.DeliveryTimeout] (3 s) is success; anything else is
// retried [Config.DeliveryRetries] times with exponential backoff (Graph
// retries for up to 4 hours). Deliveries to one URL are sequential and in
// order. As on Graph, one change may cause several notifications: a
// creation "created" then "updated", an update 1 to 3 "updated", a change to
// an occurrence (exception, cancellation) the occurrence and then the series
// master "updated"; [Config.ExactNotifications] makes it one per change for
// tests that count. [Server.SendLifecycle] sends
// reauthorizationRequired, subscriptionRemoved or missed to the
// lifecycleNotificationUrl.
//
// # Delta and the change log
//
// Each calendar keeps a change log: every write bumps the calendar's
// sequence number and stamps every instance id it changed or removed. A
// calendarView delta round returns the instances (singles, occurrences,
// exceptions — recurring series are expanded, masters are not listed) that
// changed since the round's token; those that are gone or outside the
// window come as {"@odata.type":"#microsoft.graph.event","id":...,
// "@removed":{"reason":"deleted"}}, as Graph does for out-of-window changes
// (event delta reference). An initial round lists only existing instances
// in the window. Pages honour "Prefer: odata.maxpagesize=N" (default
// [DefaultPageSize]) and answer Preference-Applied; all but the last carry
// @odata.nextLink with $skiptoken, the last @odata.deltaLink with
// $deltatoken. Tokens are opaque, signed and bound to the calendar and
// window: a malformed or foreign token is 400 InvalidDeltaToken; a token
// expired by [Server.ExpireDeltaTokens] is 410 SyncStateNotFound (or
// resyncRequired) with a Location header holding the initial query.
//
// # Faults
//
// By default the emulator is at least as harsh as Graph: the notification
// multiplicity and re-validation above, and at most
// [Config.MailboxConcurrency] (4) requests in flight per mailbox, the next
// answered 429 ApplicationThrottled "Application is over its
// MailboxConcurrency limit." with "Retry-After: 1" or none
// ([Config.ThrottleRetryAfter]; [Config.ConcurrencyPerApp] counts across
// mailboxes, as one version of Microsoft's limits page words it). Each
// harsh default has a Config knob that turns it off; [Config.Exact] turns
// off, as in googletest, those that change what a test counts.
//
// On demand: [Server.Fail] and [Server.FailNext] (429 with a fractional
// Retry-After by default, an HTTP date, or none; 5xx; any error),
// [Server.SetLatency], [Server.ExpireDeltaTokens], [Server.RevokeToken],
// [Server.RevokeAll], [Server.TimeOutNextValidations],
// [Server.SetMaxSubscriptionLifetime], [Server.DeleteCalendar],
// [Server.RevokeGrants], [Server.DenyConsent], and for
// notifications [Server.DropNextNotifications],
// [Server.DropAllNotifications], [Server.DuplicateNextNotifications] and
// [Server.DelayNotifications]. [Server.WaitIdle] waits until every
// notification has been delivered, [Server.Deliveries] logs every
// attempt, and [Server.Requests] every API request (operation, mailbox,
// calendar, status), counted by [Server.RequestCount] and
// [Server.RequestCountByStatus], so tests need no sleeps and no proxy.
//
// # Inspecting state
//
// [Server.Events] returns what a fresh calendarView shows (what a client's
// copy should hold after a sync), [Server.Event] one event and
// [Server.Subscriptions] the live subscriptions, all as copies.
package msgraphtest

// Package msgraph implements calsync's Provider for Microsoft Graph
// (Outlook) calendars, on the official SDK
// github.com/microsoftgraph/msgraph-sdk-go and golang.org/x/oauth2 token
// sources.
//
// # Authentication
//
// [Config.TokenSource] returns an oauth2.TokenSource per host account; a
// small kiota AccessTokenProvider turns it into the SDK's bearer
// authentication, so neither azcore nor MSAL is needed. Tokens are only sent
// to the host of [Config.BaseURL]. A token source whose refresh the
// authorization server refuses, and any 401, map to
// provider.ErrReauthRequired.
//
// The SDK's default middleware (retries, redirects, compression, telemetry)
// is not used: calls go through [Config.HTTPClient]'s transport, by default
// ([DefaultHTTPClient]) the retry transport shared with the google provider
// over a per-mailbox rate limiter at Graph's Outlook limits, so that one
// retry policy applies. Only the SDK handler that rewrites its
// /users/me-token-to-replace paths to /me is kept.
//
// Whatever the client, a Provider keeps at most [Config.MailboxConcurrency]
// (4) requests of one account in flight, Outlook's limit per mailbox, so
// that Graph's 429 ApplicationThrottled stays the exception.
//
// Redirects: a GET (a delta page) follows one only on the service's own
// scheme and host; a redirect answering a write (POST, PATCH, DELETE) is
// an error carrying its 3xx status, never a success, since Graph documents
// none for them and the SDK would count any status below 400 as done.
//
// # Subscriptions
//
// [Provider.Watch] creates a subscription (POST /subscriptions) with
// changeType "created,updated,deleted" on me/events (Calendar.RemoteID
// empty: the signed-in user's default calendar) or
// me/calendars/{RemoteID}/events. Calendar.AccountID is the host's account
// key, not a Graph user id, and the tokens are delegated, so the resource
// is always the token's own user ("me"); a host that syncs other users'
// calendars with application permissions needs users/{id} paths, which this
// package does not make. Graph assigns the subscription id; the clientState
// is the Engine's secret (hexadecimal, at most [MaxClientStateLength]
// characters); lifecycle notifications go to the WatchRequest's
// LifecycleAddress, or its Address. The lifetime is at most
// [Config.SubscriptionTTL] (default [DefaultSubscriptionTTL], one hour under
// the live ceiling [MaxSubscriptionTTL] of 10,070 minutes; the documented
// 10,080 is refused by the service).
//
// Graph validates the notification URLs on create, renewal and
// reauthorization alike; its 400 "Subscription validation request timed
// out." is retried with backoff ([Config.ValidationRetry], 3 tries), then
// returned. Its 400 "Subscription expiration can only be N minutes in the
// future." (the ceiling has moved over time) makes Watch and Renew try once
// more just under N, and ask for no more from then on.
//
// [Provider.Renew] extends a subscription in place (PATCH) and
// [Provider.Reauthorize] answers a reauthorizationRequired lifecycle
// notification (POST /subscriptions/{id}/reauthorize): the Provider
// implements provider.Renewer and provider.Reauthorizer, which the Engine
// detects. A 404 from either wraps provider.ErrSubscriptionGone: the Engine
// then creates a new subscription and resyncs. [Provider.Stop] deletes
// (404 → provider.ErrNotFound). On the calendar's own calls (its delta,
// creating a subscription to it) a 404, or a 403 that is not a limit
// (ErrorAccessDenied), wraps provider.ErrCalendarUnavailable: the calendar
// was deleted or the account lost access, and retrying will not help.
//
// # Sync
//
// [Provider.Fetch] runs delta query rounds: calendarView/delta over
// [Config.Window] (default 30 days back, 365 ahead), or events/delta with
// [Config.UseEventsDelta]. Each call returns one page (Prefer:
// odata.maxpagesize=[Config.MaxPageSize], outlook.timezone="UTC"), so memory
// is bounded by the page size. @odata.nextLink becomes the page token,
// @odata.deltaLink the cursor; both are replayed verbatim. Items with
// @removed and cancelled events are deletions; the rest are upserts with
// Raw holding the item's JSON. calendarView delta returns the expanded
// occurrences and exceptions, each with its seriesMasterId (as
// RecurringEventID) and originalStart. A series master that comes with its
// recurrence carries the pattern as an RRULE line in Event.Recurrence when
// RFC 5545 can express it, and always in Raw; beta's events/delta
// documents items with only id, type, start and end, so there the
// recurrence may be absent.
//
// # The event model
//
// calendarView delta returns every property of an event and accepts no
// $select (https://learn.microsoft.com/en-us/graph/api/event-delta), so
// one delta item fills the whole of provider.Event. Graph has no status:
// isCancelled is cancelled (and a deletion), showAs "tentative" is
// tentative, anything else confirmed; the owner's own answer
// (responseStatus) is Details.Response, "organizer" counting as accepted.
// showAs is Details.Availability (oof is out of office), sensitivity
// Details.Visibility (normal is default), body.content
// Details.Description (DescriptionHTML when contentType is html),
// location.displayName Details.Location, onlineMeeting.joinUrl (else the
// older onlineMeetingUrl) Details.MeetingURL, webLink Details.WebLink,
// createdDateTime Details.Created. organizer is Details.Organizer, Self
// when isOrganizer; attendees keep their type and status.response (none
// and notResponded are needsAction, tentativelyAccepted tentative). Graph
// does not say which attendee is the mailbox owner, so Attendee.Self is
// set only on the organizer's entry of the owner's own meeting.
//
// A patternedRecurrence becomes one RRULE line: daily, weekly (BYDAY, WKST
// from firstDayOfWeek, default SU), absoluteMonthly (BYMONTHDAY),
// relativeMonthly (BYDAY and BYSETPOS from index: first..fourth 1..4, last
// -1), absoluteYearly and relativeYearly (the same with BYMONTH), interval
// as INTERVAL, a numbered range as COUNT and an endDate range as UNTIL
// (inclusive: the end of that day in recurrenceTimeZone; a date for an
// all-day series). When Go does not know the zone (Outlook writes Windows
// names such as "Pacific Standard Time") UNTIL is 12 hours after the start
// of the occurrence on endDate, reckoned from the master's start and
// range.startDate: occurrences are at least a day apart, so that includes
// the last one and nothing after it. A dayOfMonth past 28 falls on the
// last day of shorter months in Outlook, so it becomes
// BYMONTHDAY=28,...,n;BYSETPOS=-1.
//
// v1.0 documents calendarView delta of the primary calendar only; a
// secondary calendar (Calendar.RemoteID) is asked on v1.0 first
// (me/calendars/{id}/calendarView/delta) and, when v1.0 refuses that path
// (400 "Unsupported request: Change tracking is not supported ...", or a
// 404 that beta contradicts), synced on beta's documented path instead.
// The choice is remembered per calendar, and the beta round's links are
// beta URLs, so it holds for every later page and cursor.
//
// A 410, or the codes syncStateNotFound / resyncRequired in any case (Graph
// documents camelCase, the live service answers SyncStateNotFound), maps to
// provider.ErrFullSyncRequired; the Engine then resyncs and deletes what
// Graph no longer has. 429 and 5xx answers are *provider.Error with
// RetryAfter parsed from Retry-After, fractional seconds included ("2.128").
//
// # Typed builders and the request adapter
//
// Subscriptions use the SDK's typed request builders and models. Delta
// requests are built with the typed builders too (me.CalendarView().Delta()
// and friends), nextLink and deltaLink through the same builders' WithUrl,
// which sends the opaque absolute URL as it is. The response is read with
// the request adapter's SendPrimitive as raw bytes rather than the typed
// Get: the typed model would lose the item's JSON (Event.Raw must be what
// Graph sent), drops @removed into untyped additional data, and decoding
// the same page twice would double its memory. Error answers are captured
// below the SDK (a recorder transport) so that the status, Retry-After and
// Graph's error code survive whatever body came with them.
//
// # Calendar discovery
//
// [Provider.ListCalendars] (provider.CalendarLister) lists an account's
// calendars from GET /me/calendars, following @odata.nextLink, with the
// mailbox's time zone from GET /me/mailboxSettings converted to an IANA
// name. The time zone needs the MailboxSettings.Read scope besides
// Calendars.Read; without it the calendars are listed with TimeZone "".
//
// # Testing
//
// Package msgraphtest is an emulator of the Graph endpoints used here, and
// of the Microsoft identity platform's authorization code flow, so that
// tests can connect an account with golang.org/x/oauth2; point
// [Config.BaseURL] at it.
package msgraph

// Package google implements calsync's Provider for Google Calendar, on the
// official client google.golang.org/api/calendar/v3 and golang.org/x/oauth2
// token sources.
//
// # Subscriptions
//
// [Provider.Watch] creates a push channel with events.watch: the channel id
// is a UUID chosen by the Engine (at most 64 characters), the token 32
// random bytes in hex (at most 256), type web_hook, and an explicit
// expiration (default [DefaultTTL]). Google channels cannot be extended; the
// Engine renews by creating a new channel before stopping the old one with
// channels.stop ([Provider.Stop]).
//
// # Sync
//
// [Provider.Fetch] pages through events.list (maxResults [DefaultPageSize],
// at most [MaxPageSize]). Without a cursor it lists the calendar; the last
// page's nextSyncToken becomes the cursor. With one it lists the changes
// since, using only the parameters Google allows with syncToken. Events
// with status "cancelled" become deletions, except cancelled exceptions of
// a series in series mode (the default), which are kept as events with
// status "cancelled" (see Config.SingleEvents); everything else an upsert. A
// 410 (fullSyncRequired) maps to provider.ErrFullSyncRequired, on which the
// Engine resyncs from scratch and deletes what Google no longer has; so
// does a 400 that rejects the sync token of an incremental list (reason
// "invalid", "Invalid sync token value."), Google's other answer to a stale
// token. A 400 on a full listing stays a permanent error.
//
// Each item fills the whole of provider.Event (events.list returns every
// member; no fields parameter is sent), Event.Details included: see the
// mapping table in package provider. Raw keeps the item's JSON.
//
// # Calendar discovery
//
// [Provider.ListCalendars] implements provider.CalendarLister with
// calendarList.list, following every page: the primary calendar first, then
// Google's order; Name is summaryOverride, else summary, and Color is
// backgroundColor. Hidden calendars are not listed (Google's default).
//
// # Errors
//
// Errors of the API are *provider.Error values (status, reason,
// Retry-After) wrapping the sentinel the Engine branches on: 401, or a
// refresh token the authorization server refuses, wraps
// provider.ErrReauthRequired; a 404 wraps provider.ErrNotFound. On the
// calendar's own events.list and events.watch, a 404 or a 403 that is not a
// rate limit (forbidden, requiredAccessLevel, ...; not rateLimitExceeded,
// userRateLimitExceeded, quotaExceeded, dailyLimitExceeded) also wraps
// provider.ErrCalendarUnavailable: the calendar was deleted or the account
// lost access to it, and retrying will not help.
//
// # Testing
//
// Package googletest is an emulator of the API and its push channels; point
// [Config.Endpoint] at it.
package google

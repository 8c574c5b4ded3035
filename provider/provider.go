package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Provider is what a calendar provider (Google, Microsoft Graph) implements.
// The calsync Engine drives it; host applications never call it directly.
//
// Implementations must be safe for concurrent use by multiple goroutines.
// Errors that the Engine branches on must wrap the sentinels of this package
// ([ErrFullSyncRequired], [ErrReauthRequired], [ErrSubscriptionGone],
// [ErrNotFound]) and should carry a [*Error] when they come from the
// provider's API.
type Provider interface {
	// Name is the provider's stable name ("google", "msgraph"). It is stored
	// with calendars and subscriptions and used to route notifications.
	Name() string

	// Watch creates a push subscription (a Google channel, a Graph
	// subscription) for cal that delivers notifications to req.Address.
	// The returned Subscription carries what the provider returned
	// (resource id, effective expiration) and the secret it will present on
	// every notification.
	Watch(ctx context.Context, cal Calendar, req WatchRequest) (*Subscription, error)

	// Stop ends a subscription created by Watch. Stopping a subscription the
	// provider no longer knows returns an error wrapping [ErrNotFound].
	Stop(ctx context.Context, cal Calendar, sub *Subscription) error

	// Fetch returns one page of changes for cal starting at pos.
	//
	// A zero pos.Cursor means a full sync: the provider lists every event of
	// the calendar. A non-empty pos.Cursor is an incremental sync from that
	// cursor. pos.PageToken continues a sync that returned a page with a
	// NextPageToken; the provider repeats the same query with it.
	//
	// When the cursor or the page token is no longer valid (HTTP 410) Fetch
	// returns an error wrapping [ErrFullSyncRequired].
	Fetch(ctx context.Context, cal Calendar, pos Position) (*Page, error)
}

// Calendar identifies one provider calendar that calsync keeps in sync.
type Calendar struct {
	// ID is the host application's key for the calendar, unique within a
	// Store. calsync never interprets it.
	ID string
	// Provider is the Name of the Provider that serves the calendar.
	Provider string
	// AccountID identifies the host's account (user) whose OAuth token is
	// used to call the provider.
	AccountID string
	// RemoteID is the provider's calendar id (Google: "primary" or the
	// calendar's email-like id; Graph: a calendar id, or "" for the user's
	// default calendar).
	RemoteID string
}

// WatchRequest says where and for how long a subscription should deliver.
type WatchRequest struct {
	// ID is the subscription id chosen by the caller, for providers whose ids
	// are client-chosen (Google channel ids). Providers that assign ids
	// themselves (Graph) ignore it.
	ID string
	// Secret is the shared secret the provider must present on every
	// notification (Google channel token, Graph clientState).
	Secret string
	// Address is the HTTPS URL that receives change notifications.
	Address string
	// LifecycleAddress receives lifecycle notifications (Graph only). If
	// empty, Address is used.
	LifecycleAddress string
	// TTL is the requested lifetime. Zero means the provider's default.
	// Providers clamp it to their documented maximum.
	TTL time.Duration
}

// Subscription is a push subscription: a Google channel or a Graph
// subscription.
//
// Secret is the shared secret (Google channel token, Graph clientState) that
// authenticates notifications. It must never be logged; String and LogValue
// leave it out.
type Subscription struct {
	// ID is the channel id (Google) or subscription id (Graph). It is what
	// notifications carry and what the webhook handlers look up.
	ID string
	// CalendarID is the calsync Calendar.ID the subscription feeds.
	CalendarID string
	// Provider is the provider's Name.
	Provider string
	// ResourceID is the provider's id of the watched resource (Google
	// resourceId, needed to stop the channel; Graph resource path).
	ResourceID string
	// ResourceURI is the provider's URI for the watched resource, if any.
	ResourceURI string
	// Address is the URL notifications are delivered to.
	Address string
	// LifecycleAddress is the URL lifecycle notifications are delivered to
	// (Graph only).
	LifecycleAddress string
	// Secret authenticates notifications (Google channel token, Graph
	// clientState).
	Secret string
	// Expiration is when the provider stops delivering.
	Expiration time.Time
	// Created is when the subscription was created.
	Created time.Time
}

// String describes the subscription without its secret.
func (s Subscription) String() string {
	return fmt.Sprintf("subscription %s (%s, calendar %s, expires %s)", s.ID, s.Provider, s.CalendarID, s.Expiration.UTC().Format(time.RFC3339))
}

// LogValue implements [slog.LogValuer]; it leaves out the secret.
func (s Subscription) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", s.ID),
		slog.String("provider", s.Provider),
		slog.String("calendar", s.CalendarID),
		slog.Time("expiration", s.Expiration),
	)
}

// Expired reports whether the subscription has expired at now.
func (s *Subscription) Expired(now time.Time) bool {
	return !s.Expiration.IsZero() && !now.Before(s.Expiration)
}

// Position is where a sync starts: a cursor and, inside a multi-page sync,
// a page token.
type Position struct {
	// Cursor is the incremental-sync cursor (Google nextSyncToken, Graph
	// deltaLink). Empty means full sync.
	Cursor string
	// PageToken continues a sync (Google pageToken, Graph nextLink).
	PageToken string
}

// Page is one page of changes returned by Fetch. Exactly one of
// NextPageToken and NextCursor is set.
type Page struct {
	// Changes are the page's changes, in provider order.
	Changes []Change
	// NextPageToken continues the sync; more pages follow.
	NextPageToken string
	// NextCursor is set on the last page: the cursor for the next
	// incremental sync.
	NextCursor string
}

// Last reports whether p is the last page of a sync.
func (p *Page) Last() bool { return p.NextPageToken == "" }

// ChangeOp is the kind of a Change.
type ChangeOp uint8

// The change operations.
const (
	// Upsert creates or replaces an event.
	Upsert ChangeOp = iota + 1
	// Delete removes an event.
	Delete
)

// String returns "upsert" or "delete".
func (op ChangeOp) String() string {
	switch op {
	case Upsert:
		return "upsert"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("ChangeOp(%d)", uint8(op))
}

// Change is one change to one event.
type Change struct {
	// Op is Upsert or Delete.
	Op ChangeOp
	// EventID is the provider's event id.
	EventID string
	// Event is the event for an Upsert. For a Delete it carries whatever the
	// provider sent with the deletion (at least the id; for a cancelled
	// occurrence of a recurring event also RecurringEventID and
	// OriginalStart), or nil.
	Event *Event
}

// Event is a calendar event in provider-neutral form.
type Event struct {
	// ID is the provider's event id, unique within the calendar.
	ID string
	// CalendarID is the calsync Calendar.ID the event belongs to.
	CalendarID string
	// Status is confirmed, tentative or cancelled.
	Status Status
	// Summary is the event's title (Google summary, Graph subject).
	Summary string
	// Start and End bound the event; End is exclusive.
	Start, End EventTime
	// RecurringEventID is, for an occurrence of a recurring event, the id of
	// the series.
	RecurringEventID string
	// OriginalStart is, for an occurrence, its start time according to the
	// recurrence rule; it identifies the occurrence even when moved.
	OriginalStart *EventTime
	// Recurrence holds the RFC 5545 RRULE, EXRULE, RDATE and EXDATE lines
	// of a series: Google's recurrence as it is; Graph's
	// patternedRecurrence converted to one RRULE line (see the msgraph
	// package documentation).
	Recurrence []string
	// ICalUID is the RFC 5545 UID, shared by the occurrences of a series.
	ICalUID string
	// ETag is the provider's entity tag for this version of the event.
	ETag string
	// Updated is the provider's last-modification time; stores use it for
	// last-write-wins.
	Updated time.Time
	// Version is a counter the Store increments on each write of the event.
	// Providers leave it zero.
	Version int64
	// Details are the normalized descriptive fields: description,
	// location, availability, visibility, organizer, attendees, meeting
	// URL, web link, creation time.
	Details EventDetails
	// Raw is the event as the provider sent it (JSON).
	Raw json.RawMessage
}

// Clone returns a deep copy of e: the copy shares no memory with e (Raw,
// Recurrence, OriginalStart and Details.Attendees are copied), so either
// can be modified without changing the other. Stores use it to keep what
// they are given and hand out what they keep.
func (e Event) Clone() Event {
	e.Raw = slices.Clone(e.Raw)
	e.Recurrence = slices.Clone(e.Recurrence)
	e.Details = e.Details.Clone()
	if e.OriginalStart != nil {
		o := *e.OriginalStart
		e.OriginalStart = &o
	}
	return e
}

// EventTime is the start or end of an event: a date for all-day events, an
// instant otherwise.
type EventTime struct {
	// Date is the day of an all-day event, "2006-01-02"; empty otherwise.
	Date string
	// DateTime is the instant of a timed event; zero for all-day events.
	DateTime time.Time
	// TimeZone is the IANA time zone the event is expressed in, if any.
	TimeZone string
}

// AllDay reports whether t is a date rather than an instant.
func (t EventTime) AllDay() bool { return t.Date != "" }

// IsZero reports whether t is unset.
func (t EventTime) IsZero() bool { return t.Date == "" && t.DateTime.IsZero() && t.TimeZone == "" }

// String formats t as a date or an RFC 3339 instant.
func (t EventTime) String() string {
	if t.Date != "" {
		return t.Date
	}
	if t.DateTime.IsZero() {
		return ""
	}
	return t.DateTime.Format(time.RFC3339)
}

package calsync

import "github.com/calsync/calsync/provider"

// The value types shared with providers, re-exported so that host
// applications write calsync.Event rather than provider.Event.
type (
	// Provider is implemented by the google and msgraph packages.
	Provider = provider.Provider
	// Calendar identifies one provider calendar kept in sync.
	Calendar = provider.Calendar
	// Subscription is a push subscription (Google channel, Graph subscription).
	Subscription = provider.Subscription
	// WatchRequest says where and for how long a subscription delivers.
	WatchRequest = provider.WatchRequest
	// Event is a calendar event in provider-neutral form.
	Event = provider.Event
	// EventTime is the start or end of an event.
	EventTime = provider.EventTime
	// Change is one change to one event.
	Change = provider.Change
	// ChangeOp is Upsert or Delete.
	ChangeOp = provider.ChangeOp
	// Position is where a sync starts.
	Position = provider.Position
	// Page is one page of changes.
	Page = provider.Page
	// ProviderError is an error response from a provider's API.
	ProviderError = provider.Error
)

// The change operations.
const (
	// Upsert creates or replaces an event.
	Upsert = provider.Upsert
	// Delete removes an event.
	Delete = provider.Delete
)

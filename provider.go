package calsync

import "github.com/calsync/calsync/provider"

// The value types shared with providers that host applications use,
// re-exported so that they write calsync.Event rather than provider.Event.
// What only provider implementations need (WatchRequest, Position, Page,
// the optional Renewer and Reauthorizer) stays in package provider.
type (
	// Provider is implemented by the google and msgraph packages.
	Provider = provider.Provider
	// Calendar identifies one provider calendar kept in sync.
	Calendar = provider.Calendar
	// Subscription is a push subscription (Google channel, Graph subscription).
	Subscription = provider.Subscription
	// Event is a calendar event in provider-neutral form.
	Event = provider.Event
	// EventTime is the start or end of an event.
	EventTime = provider.EventTime
	// Change is one change to one event.
	Change = provider.Change
	// ChangeOp is Upsert or Delete.
	ChangeOp = provider.ChangeOp
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

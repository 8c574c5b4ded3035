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

// The normalized event model: Event.Status, Event.Details and the typed
// values they hold (see package provider for each field's mapping).
type (
	// Status is an event's status: confirmed, tentative or cancelled.
	Status = provider.Status
	// EventDetails are an event's normalized descriptive fields.
	EventDetails = provider.EventDetails
	// Availability is how an event shows on free/busy schedules.
	Availability = provider.Availability
	// Visibility is who may see an event's details.
	Visibility = provider.Visibility
	// Response is an attendee's answer to an invitation.
	Response = provider.Response
	// AttendeeType is required, optional or resource.
	AttendeeType = provider.AttendeeType
	// Person is an event's organizer.
	Person = provider.Person
	// Attendee is one attendee of an event and its response.
	Attendee = provider.Attendee
)

// The event statuses.
const (
	// StatusConfirmed is a confirmed event.
	StatusConfirmed = provider.StatusConfirmed
	// StatusTentative is a tentative event.
	StatusTentative = provider.StatusTentative
	// StatusCancelled is a cancelled event.
	StatusCancelled = provider.StatusCancelled
)

// The availabilities.
const (
	// AvailabilityFree does not block time.
	AvailabilityFree = provider.AvailabilityFree
	// AvailabilityTentative blocks time tentatively.
	AvailabilityTentative = provider.AvailabilityTentative
	// AvailabilityBusy blocks time.
	AvailabilityBusy = provider.AvailabilityBusy
	// AvailabilityOutOfOffice is away.
	AvailabilityOutOfOffice = provider.AvailabilityOutOfOffice
	// AvailabilityWorkingElsewhere is working from another place.
	AvailabilityWorkingElsewhere = provider.AvailabilityWorkingElsewhere
	// AvailabilityUnknown is an availability the provider calls unknown.
	AvailabilityUnknown = provider.AvailabilityUnknown
)

// The visibilities.
const (
	// VisibilityDefault follows the calendar's sharing settings.
	VisibilityDefault = provider.VisibilityDefault
	// VisibilityPublic shows the details to every reader.
	VisibilityPublic = provider.VisibilityPublic
	// VisibilityPersonal marks a personal event (Graph).
	VisibilityPersonal = provider.VisibilityPersonal
	// VisibilityPrivate hides the details.
	VisibilityPrivate = provider.VisibilityPrivate
	// VisibilityConfidential is confidential.
	VisibilityConfidential = provider.VisibilityConfidential
)

// The responses to an invitation.
const (
	// ResponseNeedsAction has not answered.
	ResponseNeedsAction = provider.ResponseNeedsAction
	// ResponseDeclined declined.
	ResponseDeclined = provider.ResponseDeclined
	// ResponseTentative accepted tentatively.
	ResponseTentative = provider.ResponseTentative
	// ResponseAccepted accepted.
	ResponseAccepted = provider.ResponseAccepted
)

// The attendee types.
const (
	// AttendeeRequired is a required attendee.
	AttendeeRequired = provider.AttendeeRequired
	// AttendeeOptional is an optional attendee.
	AttendeeOptional = provider.AttendeeOptional
	// AttendeeResource is a room or equipment.
	AttendeeResource = provider.AttendeeResource
)

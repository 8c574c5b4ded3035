package provider

import (
	"slices"
	"time"
)

// Status is an event's status. Google reports it as the event's status
// member; Graph has none, and the msgraph provider derives it (see the
// package documentation's mapping table).
type Status string

// The event statuses, spelled as Google spells them.
const (
	// StatusConfirmed is a confirmed event, the default.
	StatusConfirmed Status = "confirmed"
	// StatusTentative is an event its organizer marked tentative (Google),
	// or one shown as tentative (Graph showAs "tentative").
	StatusTentative Status = "tentative"
	// StatusCancelled is a cancelled event: a deletion, or a cancelled
	// occurrence of a series kept to mark that occurrence off.
	StatusCancelled Status = "cancelled"
)

// String returns the status as Google spells it.
func (s Status) String() string { return string(s) }

// Availability is how an event shows on its calendar owner's free/busy
// schedule: Google's transparency (with its out-of-office event type),
// Graph's showAs.
type Availability string

// The availabilities. The zero value means the provider did not say (a
// deletion carries no availability).
const (
	// AvailabilityFree does not block time: Google transparency
	// "transparent", Graph showAs "free".
	AvailabilityFree Availability = "free"
	// AvailabilityTentative blocks time tentatively: Graph showAs
	// "tentative" (Google has no such value).
	AvailabilityTentative Availability = "tentative"
	// AvailabilityBusy blocks time: Google transparency "opaque" (its
	// default), Graph showAs "busy".
	AvailabilityBusy Availability = "busy"
	// AvailabilityOutOfOffice is away: Graph showAs "oof", and Google
	// events of eventType "outOfOffice" that block time.
	AvailabilityOutOfOffice Availability = "outOfOffice"
	// AvailabilityWorkingElsewhere is working from another place: Graph
	// showAs "workingElsewhere" (Google has no such value).
	AvailabilityWorkingElsewhere Availability = "workingElsewhere"
	// AvailabilityUnknown is Graph's showAs "unknown", and any value a
	// provider sends that this package does not know.
	AvailabilityUnknown Availability = "unknown"
)

// String returns the availability's name ("busy", "outOfOffice", ...).
func (a Availability) String() string { return string(a) }

// Visibility is who may see an event's details: Google's visibility,
// Graph's sensitivity.
type Visibility string

// The visibilities. The zero value means the provider did not say.
const (
	// VisibilityDefault follows the calendar's sharing settings: Google
	// "default" (also when visibility is absent), Graph "normal".
	VisibilityDefault Visibility = "default"
	// VisibilityPublic shows the details to every reader of the calendar:
	// Google "public" (Graph has no such value).
	VisibilityPublic Visibility = "public"
	// VisibilityPersonal marks a personal event: Graph "personal" (Google
	// has no such value; Outlook shows such events like normal ones).
	VisibilityPersonal Visibility = "personal"
	// VisibilityPrivate shows the details only to attendees (Google) or to
	// the owner and delegates allowed to see private items (Graph):
	// "private" on both.
	VisibilityPrivate Visibility = "private"
	// VisibilityConfidential is Google "confidential" (which Google
	// documents as private, kept for compatibility) and Graph
	// "confidential".
	VisibilityConfidential Visibility = "confidential"
)

// String returns the visibility's name ("default", "private", ...).
func (v Visibility) String() string { return string(v) }

// Response is an attendee's answer to an invitation.
type Response string

// The responses, spelled as Google spells them. The zero value means the
// provider did not say.
const (
	// ResponseNeedsAction has not answered: Google "needsAction", Graph
	// "none" and "notResponded".
	ResponseNeedsAction Response = "needsAction"
	// ResponseDeclined declined: "declined" on both.
	ResponseDeclined Response = "declined"
	// ResponseTentative accepted tentatively: Google "tentative", Graph
	// "tentativelyAccepted".
	ResponseTentative Response = "tentative"
	// ResponseAccepted accepted: "accepted" on both, and Graph's
	// "organizer" (the organizer attends its own meeting).
	ResponseAccepted Response = "accepted"
)

// String returns the response as Google spells it.
func (r Response) String() string { return string(r) }

// AttendeeType is whether an attendee must attend, may attend, or is a
// resource (a room, equipment).
type AttendeeType string

// The attendee types, spelled as Graph spells them.
const (
	// AttendeeRequired is a required attendee: Graph "required", Google
	// neither optional nor resource.
	AttendeeRequired AttendeeType = "required"
	// AttendeeOptional is an optional attendee: Graph "optional", Google
	// optional true.
	AttendeeOptional AttendeeType = "optional"
	// AttendeeResource is a room or equipment: Graph "resource", Google
	// resource true.
	AttendeeResource AttendeeType = "resource"
)

// String returns the type as Graph spells it.
func (t AttendeeType) String() string { return string(t) }

// Person is an event's organizer.
type Person struct {
	// Email is the email address (Google email, Graph
	// emailAddress.address).
	Email string
	// Name is the display name, if the provider has one (Google
	// displayName, Graph emailAddress.name).
	Name string
	// Self reports whether the person is the owner of the calendar this
	// copy of the event is on (Google self, Graph isOrganizer).
	Self bool
}

// Attendee is one attendee of an event and its response.
type Attendee struct {
	// Email is the attendee's email address.
	Email string
	// Name is the attendee's display name, if the provider has one.
	Name string
	// Type is required, optional or resource.
	Type AttendeeType
	// Response is the attendee's answer as the provider knows it.
	Response Response
	// Self reports whether the attendee is the owner of the calendar this
	// copy of the event is on. Google says so (self); Graph does not say
	// which attendee the mailbox owner is, so the msgraph provider sets it
	// only on the organizer's entry when the owner organizes the event.
	Self bool
	// Organizer reports whether the attendee is the event's organizer.
	Organizer bool
}

// EventDetails are an event's normalized descriptive fields: what both
// providers fill in the same way, beyond an event's identity, time and
// recurrence (which are fields of [Event] itself). The provider's own form
// of every field stays in Event.Raw.
type EventDetails struct {
	// Description is the event's description as the provider stores it:
	// Google description (plain text, or HTML when written by Google's web
	// interface), Graph body.content.
	Description string
	// DescriptionHTML reports that the provider says Description is HTML
	// (Graph body.contentType "html", usually a whole document). Google
	// does not say; its descriptions may hold HTML markup all the same.
	DescriptionHTML bool
	// Location is the free-form location: Google location, Graph
	// location.displayName.
	Location string
	// Availability is how the event shows on free/busy schedules.
	Availability Availability
	// Visibility is who may see the event's details.
	Visibility Visibility
	// Organizer is the event's organizer; zero when the provider does not
	// say.
	Organizer Person
	// Attendees are the event's attendees with their responses, in the
	// provider's order.
	Attendees []Attendee
	// Response is the calendar owner's own answer to the event: Google the
	// responseStatus of the attendee marked self (accepted when the owner
	// organizes an event without attendees), Graph responseStatus.response.
	// Zero when the provider does not say.
	Response Response
	// MeetingURL is the URL that joins the event's online meeting: Google
	// hangoutLink, else the uri of conferenceData's video entry point;
	// Graph onlineMeeting.joinUrl, else onlineMeetingUrl.
	MeetingURL string
	// WebLink opens the event in the provider's web interface: Google
	// htmlLink, Graph webLink.
	WebLink string
	// Created is when the event was created: Google created, Graph
	// createdDateTime. Zero when the provider does not say.
	Created time.Time
}

// Clone returns a deep copy of d (Attendees is copied).
func (d EventDetails) Clone() EventDetails {
	d.Attendees = slices.Clone(d.Attendees)
	return d
}

// IsZero reports whether every field of d is unset.
func (d EventDetails) IsZero() bool {
	return d.Description == "" && !d.DescriptionHTML && d.Location == "" && d.Availability == "" &&
		d.Visibility == "" && d.Organizer == (Person{}) && len(d.Attendees) == 0 && d.Response == "" &&
		d.MeetingURL == "" && d.WebLink == "" && d.Created.IsZero()
}

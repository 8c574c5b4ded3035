// Package provider defines what a calendar provider implements for calsync,
// and the value types that flow between providers, the Engine and Stores.
//
// It is to package calsync what database/sql/driver is to database/sql: a
// small leaf package, importing only the standard library, that the google
// and msgraph packages implement. Host applications use the same types
// through the aliases in package calsync (calsync.Event, calsync.Change).
//
// # Paging and cursors
//
// [Provider.Fetch] returns one [Page] at a time so that the Engine can write
// each page to the Store in one transaction together with the position it
// reached, and so that a full sync of a large calendar never holds more than
// one page in memory. A [Position] with an empty Cursor is a full sync.
//
// # The event model
//
// Both providers fill the same [Event]; their own form stays in Event.Raw.
// Descriptive fields are grouped in [EventDetails], and the enumerations
// are typed ([Status], [Availability], [Visibility], [Response],
// [AttendeeType]), spelled as the providers spell them where they agree.
// Where each field comes from (Google's Event resource,
// https://developers.google.com/workspace/calendar/api/v3/reference/events;
// Graph's event, https://learn.microsoft.com/en-us/graph/api/resources/event):
//
//	Event field          Google                                Graph
//	Status               status (default confirmed)            isCancelled: cancelled; showAs tentative: tentative; else confirmed
//	Summary              summary                               subject
//	Start, End           start, end: date|dateTime, timeZone   start, end: dateTime in UTC, timeZone; dates if isAllDay
//	RecurringEventID     recurringEventId                      seriesMasterId
//	OriginalStart        originalStartTime                     originalStart (else the occurrence's start)
//	Recurrence           recurrence                            recurrence as one RRULE line (package msgraph)
//	ICalUID              iCalUID                               iCalUId
//	ETag                 etag                                  @odata.etag, else changeKey
//	Updated              updated                               lastModifiedDateTime
//
//	Details field        Google                                Graph
//	Description          description                           body.content
//	DescriptionHTML      false (not said)                      body.contentType == html
//	Location             location                              location.displayName
//	Availability         transparency: opaque busy,            showAs: free, tentative, busy,
//	                     transparent free; opaque              oof outOfOffice, workingElsewhere,
//	                     outOfOffice event outOfOffice         unknown
//	Visibility           visibility: default (also absent),    sensitivity: normal default,
//	                     public, private, confidential         personal, private, confidential
//	Organizer            organizer email, displayName, self    organizer.emailAddress; Self = isOrganizer
//	Attendees[].Email    attendees[].email, displayName        attendees[].emailAddress address, name
//	  .Type              resource, optional, else required     type
//	  .Response          responseStatus                        status.response: none, notResponded needsAction;
//	                                                           tentativelyAccepted tentative; organizer accepted
//	  .Self              self                                  organizer's entry when isOrganizer
//	  .Organizer         organizer                             organizer's address, or response organizer
//	Response             the self attendee's responseStatus    responseStatus.response
//	                     (accepted: organizer.self, no guests)
//	MeetingURL           hangoutLink, else the video entry     onlineMeeting.joinUrl, else
//	                     point of conferenceData               onlineMeetingUrl
//	WebLink              htmlLink                              webLink
//	Created              created                               createdDateTime
//
// A zero value means the provider did not say: a deletion carries few
// fields, and the defaults Google documents for absent members apply only
// to events that are not cancelled.
package provider

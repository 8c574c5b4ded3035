// Package details encodes provider.EventDetails as the JSON the durable
// stores keep in their events.details column. The encoding has its own
// field names, so that renaming a Go field never changes stored data, and
// leaves out what is unset, so that an event without details stores NULL.
package details

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/calsync/calsync/provider"
)

// record is the stored form of provider.EventDetails.
type record struct {
	Description     string     `json:"description,omitempty"`
	DescriptionHTML bool       `json:"descriptionHtml,omitempty"`
	Location        string     `json:"location,omitempty"`
	Availability    string     `json:"availability,omitempty"`
	Visibility      string     `json:"visibility,omitempty"`
	Organizer       *person    `json:"organizer,omitempty"`
	Attendees       []attendee `json:"attendees,omitempty"`
	Response        string     `json:"response,omitempty"`
	MeetingURL      string     `json:"meetingUrl,omitempty"`
	WebLink         string     `json:"webLink,omitempty"`
	Created         string     `json:"created,omitempty"` // RFC 3339, UTC
}

type person struct {
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
	Self  bool   `json:"self,omitempty"`
}

type attendee struct {
	Email     string `json:"email,omitempty"`
	Name      string `json:"name,omitempty"`
	Type      string `json:"type,omitempty"`
	Response  string `json:"response,omitempty"`
	Self      bool   `json:"self,omitempty"`
	Organizer bool   `json:"organizer,omitempty"`
}

// Marshal returns the stored form of d, or nil when d is zero. It cannot
// fail: the record holds only strings, booleans and lists of them.
func Marshal(d provider.EventDetails) []byte {
	if d.IsZero() {
		return nil
	}
	r := record{
		Description: d.Description, DescriptionHTML: d.DescriptionHTML, Location: d.Location,
		Availability: string(d.Availability), Visibility: string(d.Visibility),
		Response: string(d.Response), MeetingURL: d.MeetingURL, WebLink: d.WebLink,
	}
	if d.Organizer != (provider.Person{}) {
		r.Organizer = &person{Email: d.Organizer.Email, Name: d.Organizer.Name, Self: d.Organizer.Self}
	}
	for _, a := range d.Attendees {
		r.Attendees = append(r.Attendees, attendee{
			Email: a.Email, Name: a.Name, Type: string(a.Type), Response: string(a.Response),
			Self: a.Self, Organizer: a.Organizer,
		})
	}
	if !d.Created.IsZero() {
		r.Created = d.Created.UTC().Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(r)
	if err != nil {
		panic("details: " + err.Error()) // unreachable, see above
	}
	return b
}

// Unmarshal decodes what Marshal returned; empty b is the zero
// EventDetails.
func Unmarshal(b []byte) (provider.EventDetails, error) {
	var d provider.EventDetails
	if len(b) == 0 {
		return d, nil
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return d, fmt.Errorf("details: %w", err)
	}
	d = provider.EventDetails{
		Description: r.Description, DescriptionHTML: r.DescriptionHTML, Location: r.Location,
		Availability: provider.Availability(r.Availability), Visibility: provider.Visibility(r.Visibility),
		Response: provider.Response(r.Response), MeetingURL: r.MeetingURL, WebLink: r.WebLink,
	}
	if r.Organizer != nil {
		d.Organizer = provider.Person{Email: r.Organizer.Email, Name: r.Organizer.Name, Self: r.Organizer.Self}
	}
	for _, a := range r.Attendees {
		d.Attendees = append(d.Attendees, provider.Attendee{
			Email: a.Email, Name: a.Name, Type: provider.AttendeeType(a.Type), Response: provider.Response(a.Response),
			Self: a.Self, Organizer: a.Organizer,
		})
	}
	if r.Created != "" {
		t, err := time.Parse(time.RFC3339Nano, r.Created)
		if err != nil {
			return d, fmt.Errorf("details: created: %w", err)
		}
		d.Created = t
	}
	return d, nil
}

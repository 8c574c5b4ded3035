package provider

import (
	"reflect"
	"testing"
	"time"
)

// TestEventDetailsIsZero sets each field of EventDetails in turn: IsZero
// must notice every one, so that a field added later cannot be forgotten
// there (stores store nothing for a zero EventDetails).
func TestEventDetailsIsZero(t *testing.T) {
	if !(EventDetails{}).IsZero() {
		t.Fatal("zero EventDetails is not IsZero")
	}
	typ := reflect.TypeFor[EventDetails]()
	for i := range typ.NumField() {
		var d EventDetails
		f := reflect.ValueOf(&d).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		case reflect.Struct:
			switch f.Interface().(type) {
			case time.Time:
				f.Set(reflect.ValueOf(time.Unix(1, 0)))
			case Person:
				f.Set(reflect.ValueOf(Person{Self: true}))
			default:
				t.Fatalf("field %s: add a case for %s", typ.Field(i).Name, f.Type())
			}
		default:
			t.Fatalf("field %s: add a case for %s", typ.Field(i).Name, f.Kind())
		}
		if d.IsZero() {
			t.Errorf("EventDetails with only %s set is IsZero", typ.Field(i).Name)
		}
	}
}

func TestEventCloneCopiesDetails(t *testing.T) {
	e := Event{ID: "e", Details: EventDetails{
		Organizer: Person{Email: "o@example.com"},
		Attendees: []Attendee{{Email: "a@example.com", Response: ResponseAccepted}},
	}}
	c := e.Clone()
	c.Details.Attendees[0].Response = ResponseDeclined
	c.Details.Organizer.Email = "other@example.com"
	if e.Details.Attendees[0].Response != ResponseAccepted || e.Details.Organizer.Email != "o@example.com" {
		t.Fatalf("changing the clone changed the original: %+v", e.Details)
	}
	if !reflect.DeepEqual(Event{}.Clone(), Event{}) {
		t.Fatal("clone of the zero Event is not zero")
	}
}

package outbox

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync"
)

// Every field of an Event survives, Raw byte for byte (even bytes that are
// not JSON, which a re-encoding would refuse or normalise).
func TestRoundTrip(t *testing.T) {
	at := time.Date(2031, 3, 14, 15, 9, 26, 535897932, time.UTC)
	full := &calsync.Event{
		ID: "e", CalendarID: "c", Status: "confirmed", Summary: "s",
		Start:            calsync.EventTime{DateTime: at, TimeZone: "Europe/Berlin"},
		End:              calsync.EventTime{Date: "2031-03-15"},
		RecurringEventID: "r", OriginalStart: &calsync.EventTime{DateTime: at.Add(time.Hour)},
		Recurrence: []string{"RRULE:FREQ=DAILY"}, ICalUID: "u", ETag: "\"1\"", Updated: at, Version: 7,
		Raw: json.RawMessage("{ \"id\" :  \"e\" }"),
	}
	notJSON := &calsync.Event{ID: "n", Raw: json.RawMessage("not json")}
	for _, ch := range []calsync.Change{
		{Op: calsync.Upsert, EventID: "e", Event: full},
		{Op: calsync.Delete, EventID: "d"},
		{Op: calsync.Delete, EventID: "n", Event: notJSON},
		{Op: calsync.Delete, EventID: "z", Event: &calsync.Event{ID: "z", CalendarID: "c"}},
	} {
		b, err := Encode(ch)
		if err != nil {
			t.Fatalf("Encode(%s:%s): %v", ch.Op, ch.EventID, err)
		}
		got, err := Decode(int(ch.Op), ch.EventID, b)
		if err != nil {
			t.Fatalf("Decode(%s:%s): %v", ch.Op, ch.EventID, err)
		}
		if !reflect.DeepEqual(got, ch) {
			t.Errorf("round trip of %s:%s:\n got %+v\nwant %+v", ch.Op, ch.EventID, got.Event, ch.Event)
		}
	}
}

// Raw is stored as it is, after the JSON, not base64 inside it.
func TestRawNotReencoded(t *testing.T) {
	raw := `{"summary":"` + strings.Repeat("x", 10000) + `"}`
	b, err := Encode(calsync.Change{Op: calsync.Upsert, EventID: "e", Event: &calsync.Event{ID: "e", Raw: json.RawMessage(raw)}})
	if err != nil {
		t.Fatal(err)
	}
	// Base64 would add a third of Raw; the rest of the Event is a few
	// hundred bytes of JSON.
	if !strings.HasSuffix(string(b), "\n"+raw) || len(b) > len(raw)+1000 {
		t.Errorf("encoded %d bytes for a Raw of %d: %.80q…", len(b), len(raw), b)
	}
}

// Package outbox encodes the changes the durable stores write to their
// change feed ([calsync.ChangeFeed]), so that store/sqlite and
// store/postgres keep them alike.
//
// An entry's operation and event id are columns of their own; the event,
// when the change carries one, is JSON of every [calsync.Event] field, so
// that fields added to Event later travel without a migration. Raw is
// kept byte for byte (base64 in the JSON), not re-encoded.
package outbox

import (
	"encoding/json"
	"fmt"

	"github.com/calsync/calsync"
)

// event is an Event whose Raw is kept as bytes: the outer Raw hides the
// embedded one from encoding/json.
type event struct {
	*calsync.Event
	Raw []byte `json:",omitempty"`
}

// Encode returns the stored form of ch.Event: nil when it has none.
func Encode(ch calsync.Change) ([]byte, error) {
	if ch.Event == nil {
		return nil, nil
	}
	b, err := json.Marshal(event{Event: ch.Event, Raw: ch.Event.Raw})
	if err != nil {
		return nil, fmt.Errorf("encode the feed entry of %q: %w", ch.EventID, err)
	}
	return b, nil
}

// Decode rebuilds the change Encode stored: op and eventID from their
// columns, data from Encode (nil for no Event).
func Decode(op int, eventID string, data []byte) (calsync.Change, error) {
	ch := calsync.Change{Op: calsync.ChangeOp(op), EventID: eventID}
	if data == nil {
		return ch, nil
	}
	ev := new(calsync.Event)
	w := event{Event: ev}
	if err := json.Unmarshal(data, &w); err != nil {
		return calsync.Change{}, fmt.Errorf("decode the feed entry of %q: %w", eventID, err)
	}
	if w.Raw != nil {
		ev.Raw = w.Raw
	}
	ch.Event = ev
	return ch, nil
}

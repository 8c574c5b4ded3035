// Package outbox encodes the changes the durable stores write to their
// change feed ([calsync.ChangeFeed]), so that store/sqlite and
// store/postgres keep them alike.
//
// An entry's operation and event id are columns of their own; the event,
// when the change carries one, is JSON of every [calsync.Event] field but
// Raw, so that fields added to Event later travel without a migration,
// followed by a newline and Raw byte for byte (compact JSON never
// contains a raw newline): Raw is most of an event, and neither
// re-encoding it as JSON nor base64 would keep it cheap and exact.
package outbox

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/calsync/calsync"
)

// event is an Event without Raw: the outer Raw hides the embedded one
// from encoding/json, and is always nil, so omitted.
type event struct {
	*calsync.Event
	Raw *struct{} `json:",omitempty"`
}

// Encode returns the stored form of ch.Event: nil when it has none.
func Encode(ch calsync.Change) ([]byte, error) {
	if ch.Event == nil {
		return nil, nil
	}
	b, err := json.Marshal(event{Event: ch.Event})
	if err != nil {
		return nil, fmt.Errorf("encode the feed entry of %q: %w", ch.EventID, err)
	}
	if ch.Event.Raw != nil {
		b = append(append(b, '\n'), ch.Event.Raw...)
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
	meta, raw, hasRaw := bytes.Cut(data, []byte{'\n'})
	ev := new(calsync.Event)
	if err := json.Unmarshal(meta, &event{Event: ev}); err != nil {
		return calsync.Change{}, fmt.Errorf("decode the feed entry of %q: %w", eventID, err)
	}
	if hasRaw {
		ev.Raw = append(json.RawMessage{}, raw...)
	}
	ch.Event = ev
	return ch, nil
}

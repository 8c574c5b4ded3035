// Package accountrec encodes the calendars of a calsync.Account the way
// store/sqlite and store/postgres keep them: one JSON array per account.
package accountrec

import (
	"encoding/json"
	"fmt"

	"github.com/calsync/calsync"
)

// calendar is the stored form of a calsync.CalendarInfo; its field names
// are part of the stored format.
type calendar struct {
	ID         string `json:"id"`
	Name       string `json:"name,omitempty"`
	Primary    bool   `json:"primary,omitempty"`
	AccessRole string `json:"accessRole,omitempty"`
	Color      string `json:"color,omitempty"`
	TimeZone   string `json:"timeZone,omitempty"`
}

// Encode returns the stored form of cals: nil (SQL NULL) for nil, "never
// listed", and a JSON array otherwise, "[]" for an empty list.
func Encode(cals []calsync.CalendarInfo) ([]byte, error) {
	if cals == nil {
		return nil, nil
	}
	out := make([]calendar, len(cals))
	for i, c := range cals {
		out[i] = calendar(c)
	}
	return json.Marshal(out)
}

// Decode reverses Encode.
func Decode(b []byte) ([]calsync.CalendarInfo, error) {
	if b == nil {
		return nil, nil
	}
	var in []calendar
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("malformed account calendars: %w", err)
	}
	out := make([]calsync.CalendarInfo, len(in))
	for i, c := range in {
		out[i] = calsync.CalendarInfo(c)
	}
	return out, nil
}

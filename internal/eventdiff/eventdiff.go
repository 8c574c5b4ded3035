// Package eventdiff compares the normalized fields of events for tests: the
// provider end-to-end tests and store/storetest report differences the
// same way, field by field.
package eventdiff

import (
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/calsync/calsync/provider"
)

// Details returns one line per field of got that differs from want:
// Created is compared as an instant, and no attendees equals an empty
// list; every other field (present or added later) with reflect.DeepEqual.
func Details(got, want provider.EventDetails) []string {
	var d []string
	if !got.Created.Equal(want.Created) {
		d = append(d, fmt.Sprintf("Details.Created = %s, want %s", got.Created.UTC().Format(time.RFC3339Nano), want.Created.UTC().Format(time.RFC3339Nano)))
	}
	if !(len(got.Attendees) == 0 && len(want.Attendees) == 0) && !slices.Equal(got.Attendees, want.Attendees) {
		d = append(d, fmt.Sprintf("Details.Attendees = %+v, want %+v", got.Attendees, want.Attendees))
	}
	got.Created, want.Created, got.Attendees, want.Attendees = time.Time{}, time.Time{}, nil, nil
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range g.NumField() {
		if !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
			d = append(d, fmt.Sprintf("Details.%s = %+v, want %+v", g.Type().Field(i).Name, g.Field(i), w.Field(i)))
		}
	}
	return d
}

package google

import (
	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync/provider"
)

// EventTimeOf converts a start or end as Fetch does (zero if malformed).
func EventTimeOf(t *calendar.EventDateTime) provider.EventTime {
	v, _ := eventTime(t)
	return v
}

package memory

import (
	"context"
	"time"

	"github.com/calsync/calsync"
)

var _ calsync.TimeIndex = (*Store)(nil)

// EventsBetween returns the calendar's events for which
// [calsync.InRange] is true, ordered by id. It reads every event of the
// calendar: the memory Store keeps no time index.
func (s *Store) EventsBetween(ctx context.Context, calendarID string, from, to time.Time) ([]calsync.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cals[calendarID]
	if !ok {
		return nil, notFound("calendar", calendarID)
	}
	var out []calsync.Event
	for _, id := range c.sortedIDs() {
		if ev := c.events[id].ev; calsync.InRange(ev, from, to) {
			out = append(out, ev.Clone())
		}
	}
	return out, nil
}

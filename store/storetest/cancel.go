package storetest

import (
	"context"
	"sort"

	"github.com/calsync/calsync"
)

func testCancelledContext(h *harness) {
	cal := h.newCalendar("cal")
	e := h.ev(cal, "e", h.at(1), "1")
	h.apply(cal, &calsync.Batch{Changes: []calsync.Change{upsert(e)}, State: calsync.SyncState{Cursor: "before"}})
	sub := h.sub(cal, "s", h.at(100))
	h.putSub(sub)

	ctx, cancel := context.WithCancel(h.ctx)
	cancel()
	calls := map[string]func() error{
		"PutCalendar": func() error { return h.s.PutCalendar(ctx, calsync.Calendar{ID: h.ns + "new"}) },
		"Calendar":    func() error { _, err := h.s.Calendar(ctx, cal); return err },
		"ListCalendars": func() error {
			_, err := h.s.ListCalendars(ctx)
			return err
		},
		"DeleteCalendar": func() error { return h.s.DeleteCalendar(ctx, h.ns+"new") },
		"SyncState":      func() error { _, err := h.s.SyncState(ctx, cal); return err },
		"Apply": func() error {
			_, err := h.s.Apply(ctx, cal, &calsync.Batch{
				Changes: []calsync.Change{upsert(h.ev(cal, "e", h.at(2), "2")), upsert(h.ev(cal, "f", h.at(2), "2"))},
				State:   calsync.SyncState{Cursor: "after"},
			})
			return err
		},
		"Event":                 func() error { _, err := h.s.Event(ctx, cal, "e"); return err },
		"ListEvents":            func() error { _, err := h.s.ListEvents(ctx, cal, "", 10); return err },
		"PutSubscription":       func() error { return h.s.PutSubscription(ctx, h.sub(cal, "new", h.at(100))) },
		"Subscription":          func() error { _, err := h.s.Subscription(ctx, sub.ID); return err },
		"ListSubscriptions":     func() error { _, err := h.s.ListSubscriptions(ctx, cal); return err },
		"ExpiringSubscriptions": func() error { _, err := h.s.ExpiringSubscriptions(ctx, h.at(1000)); return err },
		"DeleteSubscription":    func() error { return h.s.DeleteSubscription(ctx, sub.ID) },
	}
	names := make([]string, 0, len(calls))
	for name := range calls {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := calls[name](); err == nil {
			h.Errorf("%s with a cancelled context returned no error", name)
		}
	}
	// The failed Apply changed nothing.
	h.checkEvent("event after Apply with a cancelled context", h.event(cal, "e"), want(e, 1))
	h.absent(cal, "f")
	h.checkState("SyncState after Apply with a cancelled context", h.state(cal), calsync.SyncState{Cursor: "before"})
}

package storetest

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/calsync/calsync"
)

func (h *harness) checkAttempt(what string, got, want calsync.Attempt) {
	h.Helper()
	if got.ID != want.ID || got.Attempts != want.Attempts || got.LastError != want.LastError ||
		!got.FirstFailed.Equal(want.FirstFailed) || !got.LastFailed.Equal(want.LastFailed) || !got.NextAttempt.Equal(want.NextAttempt) {
		h.Errorf("%s: attempt = %+v, want %+v", what, got, want)
	}
	h.checkNotification(what, got.Notification, want.Notification)
}

func (h *harness) checkDead(what string, got, want calsync.DeadLetter) {
	h.Helper()
	if got.ID != want.ID || got.Attempts != want.Attempts || got.LastError != want.LastError ||
		!got.FirstFailed.Equal(want.FirstFailed) || !got.LastFailed.Equal(want.LastFailed) {
		h.Errorf("%s: dead letter = %+v, want %+v", what, got, want)
	}
	h.checkNotification(what, got.Notification, want.Notification)
}

func (h *harness) checkNotification(what string, got, want calsync.Notification) {
	h.Helper()
	if got.Kind != want.Kind || got.Provider != want.Provider || got.SubscriptionID != want.SubscriptionID ||
		got.CalendarID != want.CalendarID || got.MessageID != want.MessageID || !got.Received.Equal(want.Received) {
		h.Errorf("%s: notification = %+v, want %+v", what, got, want)
	}
}

func testDeadLetters(h *harness) {
	d := as[calsync.DeadLetters](h)
	// DueAttempts sees every record of a shared store: use an era of its
	// own.
	era := time.Date(1999, 12, 31, 23, 0, 0, 123000, time.UTC)
	at := func(min int) time.Time { return era.Add(time.Duration(min) * time.Minute) }
	n := calsync.Notification{Kind: calsync.Changed, Provider: "google", SubscriptionID: h.ns + "chan", CalendarID: h.ns + "cal", MessageID: "chan/7", Received: at(0)}
	id := h.ns + "n7"

	a, err := d.RecordAttempt(h.ctx, id, n, "google: 503 backendError", at(1), at(3))
	if err != nil {
		h.Fatalf("RecordAttempt: %v", err)
	}
	want1 := calsync.Attempt{ID: id, Notification: n, Attempts: 1, LastError: "google: 503 backendError", FirstFailed: at(1), LastFailed: at(1), NextAttempt: at(3)}
	h.checkAttempt("first RecordAttempt", a, want1)
	a, err = d.RecordAttempt(h.ctx, id, n, "timeout", at(3), at(7))
	if err != nil {
		h.Fatalf("RecordAttempt: %v", err)
	}
	want2 := calsync.Attempt{ID: id, Notification: n, Attempts: 2, LastError: "timeout", FirstFailed: at(1), LastFailed: at(3), NextAttempt: at(7)}
	h.checkAttempt("second RecordAttempt", a, want2)
	got, err := d.Attempt(h.ctx, id)
	if err != nil {
		h.Fatalf("Attempt: %v", err)
	}
	h.checkAttempt("Attempt", got, want2)

	// Due attempts, ordered by NextAttempt then ID.
	other := h.ns + "n8"
	if _, err := d.RecordAttempt(h.ctx, other, n, "x", at(2), at(5)); err != nil {
		h.Fatal(err)
	}
	late := h.ns + "n9"
	if _, err := d.RecordAttempt(h.ctx, late, n, "x", at(2), at(60)); err != nil {
		h.Fatal(err)
	}
	due, err := d.DueAttempts(h.ctx, at(7), 10)
	if err != nil {
		h.Fatalf("DueAttempts: %v", err)
	}
	var ids []string
	for _, a := range due {
		ids = append(ids, a.ID)
	}
	if !slices.Equal(ids, []string{other, id}) {
		h.Errorf("DueAttempts(minute 7) = %q, want [%s %s] (due at minutes 5 and 7; minute 60 is not due)", ids, other, id)
	}
	if due, err := d.DueAttempts(h.ctx, at(7), 1); err != nil || len(due) != 1 || due[0].ID != other {
		h.Errorf("DueAttempts(minute 7, limit 1) = %v, %v; want [%s]", due, err, other)
	}
	if err := d.ClearAttempt(h.ctx, other); err != nil {
		h.Fatalf("ClearAttempt: %v", err)
	}
	_, err = d.Attempt(h.ctx, other)
	h.notFound(err, "Attempt after ClearAttempt")
	if err := d.ClearAttempt(h.ctx, other); err != nil {
		h.Errorf("ClearAttempt of a cleared record: %v, want nil", err)
	}
	_, err = d.Attempt(h.ctx, h.ns+"unknown")
	h.notFound(err, "Attempt of an unknown id")

	// Moving to the dead letters drops the retry record.
	dl := calsync.DeadLetter{ID: id, Notification: n, Attempts: 5, LastError: "gave up: timeout", FirstFailed: at(1), LastFailed: at(40)}
	if err := d.AddDeadLetter(h.ctx, dl); err != nil {
		h.Fatalf("AddDeadLetter: %v", err)
	}
	_, err = d.Attempt(h.ctx, id)
	h.notFound(err, "Attempt after AddDeadLetter")
	gotDL, err := d.DeadLetter(h.ctx, id)
	if err != nil {
		h.Fatalf("DeadLetter: %v", err)
	}
	h.checkDead("DeadLetter", gotDL, dl)
	// Adding again replaces.
	dl.LastError = "gave up again"
	if err := d.AddDeadLetter(h.ctx, dl); err != nil {
		h.Fatalf("AddDeadLetter again: %v", err)
	}
	if gotDL, err := d.DeadLetter(h.ctx, id); err != nil || gotDL.LastError != "gave up again" {
		h.Errorf("DeadLetter after a second AddDeadLetter = %+v, %v", gotDL, err)
	}

	// Listing pages in id order.
	var want []string
	for i := range 5 {
		x := fmt.Sprintf("%sdl-%d", h.ns, i)
		want = append(want, x)
		if err := d.AddDeadLetter(h.ctx, calsync.DeadLetter{ID: x, Notification: n, Attempts: 5, LastError: "e", FirstFailed: at(i), LastFailed: at(i)}); err != nil {
			h.Fatal(err)
		}
	}
	want = append(want, id) // "…n7" sorts after "…dl-N"
	var listed []string
	after := h.ns
	for {
		page, err := d.ListDeadLetters(h.ctx, after, 2)
		if err != nil {
			h.Fatalf("ListDeadLetters: %v", err)
		}
		var mine int
		for _, x := range page {
			if strings.HasPrefix(x.ID, h.ns) {
				listed = append(listed, x.ID)
				mine++
			}
		}
		if len(page) == 0 || mine < len(page) {
			break
		}
		after = page[len(page)-1].ID
	}
	if !slices.Equal(listed, want) {
		h.Errorf("ListDeadLetters pages = %q, want %q", listed, want)
	}

	// Replay: enqueue the notification again, then delete the dead letter.
	if err := d.DeleteDeadLetter(h.ctx, id); err != nil {
		h.Fatalf("DeleteDeadLetter: %v", err)
	}
	_, err = d.DeadLetter(h.ctx, id)
	h.notFound(err, "DeadLetter after DeleteDeadLetter")
	h.notFound(d.DeleteDeadLetter(h.ctx, id), "DeleteDeadLetter of a deleted dead letter")
}

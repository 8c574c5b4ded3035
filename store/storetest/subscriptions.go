package storetest

import (
	"slices"
	"strings"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
)

func (h *harness) sub(cal, name string, exp time.Time) calsync.Subscription {
	return calsync.Subscription{
		ID:               h.ns + name,
		CalendarID:       cal,
		Provider:         "msgraph",
		ResourceID:       "res-" + name,
		ResourceURI:      "https://graph.microsoft.com/v1.0/me/events?name=" + name,
		Address:          "https://example.com/hook/" + name,
		LifecycleAddress: "https://example.com/lifecycle/" + name,
		Secret:           "s3cr3t-" + name + "-" + strings.Repeat("x", 64),
		SecretHash:       provider.HashSecret("s3cr3t-" + name + "-" + strings.Repeat("x", 64)),
		Expiration:       exp,
		Created:          exp.Add(-72 * time.Hour).In(time.FixedZone("UTC+2", 7200)),
	}
}

// checkSub compares a subscription read back with the one put. The Store
// keeps SecretHash and never the plaintext Secret (the Engine does not
// pass one; a Store given one must drop it), so got has an empty Secret.
func (h *harness) checkSub(what string, got, want calsync.Subscription) {
	h.Helper()
	if got.Secret != "" {
		h.Errorf("%s: the Store kept the plaintext Secret; it must keep only SecretHash", what)
	}
	g, w := got, want
	g.Secret, w.Secret = "", ""
	g.Expiration, g.Created, w.Expiration, w.Created = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if g != w || !got.Expiration.Equal(want.Expiration) || !got.Created.Equal(want.Created) {
		h.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func (h *harness) putSub(sub calsync.Subscription) {
	h.Helper()
	if err := h.s.PutSubscription(h.ctx, sub); err != nil {
		h.Fatalf("PutSubscription(%q): %v", sub.ID, err)
	}
}

func subIDs(subs []calsync.Subscription) []string {
	ids := make([]string, len(subs))
	for i, s := range subs {
		ids[i] = s.ID
	}
	return ids
}

func testSubscriptions(h *harness) {
	cal, other := h.newCalendar("cal"), h.newCalendar("other")
	s2, s1, s3 := h.sub(cal, "s2", h.at(3000)), h.sub(cal, "s1", h.at(1000)), h.sub(cal, "S3", h.at(2000))
	so := h.sub(other, "so", h.at(500))
	for _, s := range []calsync.Subscription{s2, s1, s3, so} {
		h.putSub(s)
	}
	for _, s := range []calsync.Subscription{s1, s2, s3, so} {
		got, err := h.s.Subscription(h.ctx, s.ID)
		if err != nil {
			h.Fatalf("Subscription(%q): %v", s.ID, err)
		}
		h.checkSub("Subscription("+s.ID+")", got, s)
	}
	_, err := h.s.Subscription(h.ctx, h.ns+"unknown")
	h.notFound(err, "Subscription of an unknown id")

	// Replace: every field changes.
	r := h.sub(cal, "s1", h.at(9000))
	r.ID = s1.ID
	r.Provider, r.ResourceID, r.Secret, r.SecretHash, r.Address = "google", "res-renewed", "new-secret", provider.HashSecret("new-secret"), "https://example.com/new"
	h.putSub(r)
	got, err := h.s.Subscription(h.ctx, s1.ID)
	if err != nil {
		h.Fatalf("Subscription(%q) after replace: %v", s1.ID, err)
	}
	h.checkSub("Subscription after replace", got, r)

	list, err := h.s.ListSubscriptions(h.ctx, cal)
	if err != nil {
		h.Fatalf("ListSubscriptions: %v", err)
	}
	if want := []string{s3.ID, s1.ID, s2.ID}; !slices.Equal(subIDs(list), want) { // "S3" < "s1" < "s2"
		h.Errorf("ListSubscriptions = %q, want %q", subIDs(list), want)
	} else {
		h.checkSub("ListSubscriptions[1]", list[1], r)
	}
	if list, err := h.s.ListSubscriptions(h.ctx, other); err != nil || !slices.Equal(subIDs(list), []string{so.ID}) {
		h.Errorf("ListSubscriptions(other) = %q, %v; want [%s]", subIDs(list), err, so.ID)
	}
	if list, err := h.s.ListSubscriptions(h.ctx, h.newCalendar("none")); err != nil || len(list) != 0 {
		h.Errorf("ListSubscriptions of a calendar without any = %q, %v; want none", subIDs(list), err)
	}

	if err := h.s.DeleteSubscription(h.ctx, s2.ID); err != nil {
		h.Fatalf("DeleteSubscription(%q): %v", s2.ID, err)
	}
	_, err = h.s.Subscription(h.ctx, s2.ID)
	h.notFound(err, "Subscription after DeleteSubscription")
	if list, err := h.s.ListSubscriptions(h.ctx, cal); err != nil || !slices.Equal(subIDs(list), []string{s3.ID, s1.ID}) {
		h.Errorf("ListSubscriptions after delete = %q, %v; want [%s %s]", subIDs(list), err, s3.ID, s1.ID)
	}
	if err := h.s.DeleteSubscription(h.ctx, s2.ID); err != nil && !isNotFound(err) {
		h.Errorf("DeleteSubscription of a deleted subscription: %v, want nil or ErrNotFound", err)
	}
}

func testExpiringSubscriptions(h *harness) {
	cal, other := h.newCalendar("cal"), h.newCalendar("other")
	t0 := time.Now().Add(24 * time.Hour).Truncate(time.Microsecond)
	subs := []calsync.Subscription{
		h.sub(cal, "a", t0.Add(3*time.Hour)),
		h.sub(cal, "b", t0.Add(1*time.Hour)),
		h.sub(other, "c", t0.Add(2*time.Hour)),
		h.sub(cal, "d", t0.Add(5*time.Hour)),
		h.sub(cal, "e", t0.Add(4*time.Hour)), // exactly at the bound: not before it
		h.sub(other, "f", t0.Add(4*time.Hour-h.f.TimePrecision)),
	}
	for _, s := range subs {
		h.putSub(s)
	}
	bound := t0.Add(4 * time.Hour)
	got, err := h.s.ExpiringSubscriptions(h.ctx, bound)
	if err != nil {
		h.Fatalf("ExpiringSubscriptions: %v", err)
	}
	if !slices.IsSortedFunc(got, func(a, b calsync.Subscription) int { return a.Expiration.Compare(b.Expiration) }) {
		h.Errorf("ExpiringSubscriptions is not ordered by expiration: %q", subIDs(got))
	}
	var mine []calsync.Subscription
	for _, s := range got {
		if !s.Expiration.Before(bound) {
			h.Errorf("ExpiringSubscriptions(%s) returned %q expiring at %s", bound, s.ID, s.Expiration)
		}
		if strings.HasPrefix(s.ID, h.ns) {
			mine = append(mine, s)
		}
	}
	want := []calsync.Subscription{subs[1], subs[2], subs[0], subs[5]}
	if !slices.Equal(subIDs(mine), subIDs(want)) {
		h.Errorf("ExpiringSubscriptions = %q, want %q", subIDs(mine), subIDs(want))
	} else {
		for i := range want {
			h.checkSub("ExpiringSubscriptions["+want[i].ID+"]", mine[i], want[i])
		}
	}
	// A renewal moves a subscription out.
	renewed := subs[1]
	renewed.Expiration = t0.Add(48 * time.Hour)
	h.putSub(renewed)
	got, err = h.s.ExpiringSubscriptions(h.ctx, bound)
	if err != nil {
		h.Fatalf("ExpiringSubscriptions: %v", err)
	}
	if slices.Contains(subIDs(got), renewed.ID) {
		h.Errorf("ExpiringSubscriptions still returns %q after its expiration moved past the bound", renewed.ID)
	}
}

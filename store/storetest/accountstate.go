package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/calsync/calsync"
)

func testAccountStates(h *harness) {
	as := as[calsync.AccountStore](h)
	id := h.ns + "acct-1"
	if _, err := as.Account(h.ctx, id); !errors.Is(err, calsync.ErrNotFound) {
		h.Fatalf("Account of an unknown account: %v, want ErrNotFound", err)
	}
	a := calsync.Account{ID: id, Provider: "google", Status: calsync.AccountActive, Changed: h.at(1)}
	if ok, err := as.SwapAccount(h.ctx, a, calsync.AccountNeedsReauth); err != nil || ok {
		h.Fatalf("SwapAccount expecting a status of a missing account = %v, %v; want false", ok, err)
	}
	if ok, err := as.SwapAccount(h.ctx, a, ""); err != nil || !ok {
		h.Fatalf("SwapAccount creating = %v, %v", ok, err)
	}
	if ok, err := as.SwapAccount(h.ctx, a, ""); err != nil || ok {
		h.Fatalf("SwapAccount creating an existing account = %v, %v; want false", ok, err)
	}
	got, err := as.Account(h.ctx, id)
	if err != nil {
		h.Fatal(err)
	}
	if got.Calendars != nil {
		h.Errorf("Calendars of an account never listed = %#v, want nil", got.Calendars)
	}
	if !got.Changed.Equal(h.at(1)) || got.Status != calsync.AccountActive || got.Provider != "google" {
		h.Errorf("Account = %+v", got)
	}

	// needs_reauth, with calendars (unicode, empty fields, order kept).
	cals := []calsync.CalendarInfo{
		{ID: "primary@example.com", Name: "Arbeit – Ünïcode", Primary: true, AccessRole: "owner", Color: "#9fe1e7", TimeZone: "Europe/Berlin"},
		{ID: "b", Name: "", AccessRole: "reader"},
	}
	b := a
	b.Status, b.Reason, b.Changed, b.Calendars = calsync.AccountNeedsReauth, "invalid_grant (HTTP 400)", h.at(2), cals
	if ok, err := as.SwapAccount(h.ctx, b, calsync.AccountNeedsReauth); err != nil || ok {
		h.Fatalf("SwapAccount with a stale expectation = %v, %v; want false", ok, err)
	}
	if ok, err := as.SwapAccount(h.ctx, b, calsync.AccountActive); err != nil || !ok {
		h.Fatalf("SwapAccount active→needs_reauth = %v, %v", ok, err)
	}
	cals[0].Name = "changed by the caller" // the store must have copied them
	got, err = as.Account(h.ctx, id)
	if err != nil {
		h.Fatal(err)
	}
	want := b
	want.Calendars = []calsync.CalendarInfo{
		{ID: "primary@example.com", Name: "Arbeit – Ünïcode", Primary: true, AccessRole: "owner", Color: "#9fe1e7", TimeZone: "Europe/Berlin"},
		{ID: "b", AccessRole: "reader"},
	}
	if !got.Changed.Equal(want.Changed) {
		h.Errorf("Changed = %v, want %v", got.Changed, want.Changed)
	}
	got.Changed = want.Changed
	if !reflect.DeepEqual(got, want) {
		h.Errorf("Account = %+v\nwant      %+v", got, want)
	}
	got.Calendars[0].ID = "x" // nor share what it returns
	if again, _ := as.Account(h.ctx, id); again.Calendars[0].ID != "primary@example.com" {
		h.Errorf("modifying a returned account changed the stored one")
	}
	// An empty list is not "never listed".
	c := want
	c.Calendars = []calsync.CalendarInfo{}
	if ok, err := as.SwapAccount(h.ctx, c, calsync.AccountNeedsReauth); err != nil || !ok {
		h.Fatalf("SwapAccount = %v, %v", ok, err)
	}
	if got, _ := as.Account(h.ctx, id); got.Calendars == nil || len(got.Calendars) != 0 {
		h.Errorf("Calendars after storing an empty list = %#v, want empty, not nil", got.Calendars)
	}

	other := h.ns + "acct-0"
	if ok, err := as.SwapAccount(h.ctx, calsync.Account{ID: other, Provider: "msgraph", Status: calsync.AccountDisconnected, Changed: h.at(3)}, ""); err != nil || !ok {
		h.Fatalf("SwapAccount = %v, %v", ok, err)
	}
	all, err := as.ListAccounts(h.ctx)
	if err != nil {
		h.Fatal(err)
	}
	var mine []string
	for _, a := range all {
		if len(a.ID) > len(h.ns) && a.ID[:len(h.ns)] == h.ns {
			mine = append(mine, a.ID)
		}
	}
	if !reflect.DeepEqual(mine, []string{other, id}) {
		h.Errorf("ListAccounts = %v, want %v in ID order", mine, []string{other, id})
	}
	if err := as.DeleteAccount(h.ctx, other); err != nil {
		h.Fatal(err)
	}
	if err := as.DeleteAccount(h.ctx, other); !errors.Is(err, calsync.ErrNotFound) {
		h.Errorf("DeleteAccount twice: %v, want ErrNotFound", err)
	}
	if _, err := as.Account(h.ctx, other); !errors.Is(err, calsync.ErrNotFound) {
		h.Errorf("Account after DeleteAccount: %v, want ErrNotFound", err)
	}
}

// testAccountSwapConcurrent: of many callers making the same transition
// at once, exactly one wins (one OnAccountStatus across instances).
func testAccountSwapConcurrent(h *harness) {
	as := as[calsync.AccountStore](h)
	id := h.ns + "acct-race"
	const n = 8
	for round, expect := range []calsync.AccountStatus{"", calsync.AccountActive} {
		next := calsync.AccountActive
		if round == 1 {
			next = calsync.AccountNeedsReauth
		}
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins int
			errs []error
		)
		for i := range n {
			wg.Go(func() {
				ok, err := as.SwapAccount(h.ctx, calsync.Account{ID: id, Provider: "google", Status: next, Reason: fmt.Sprint(i), Changed: h.at(i)}, expect)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				}
				if ok {
					wins++
				}
			})
		}
		wg.Wait()
		if len(errs) > 0 || wins != 1 {
			h.Fatalf("round %d: %d of %d concurrent SwapAccount calls won (errors %v), want exactly 1", round, wins, n, errs)
		}
	}
}

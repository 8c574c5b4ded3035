package calsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/calsync/calsync/provider"
)

// CalendarInfo describes one calendar of an account as its provider lists
// it (see [Engine.ListCalendars]).
type CalendarInfo = provider.CalendarInfo

// AccountStatus is the state of an account's OAuth grant.
type AccountStatus string

// The account states.
const (
	// AccountActive: the grant works; the account's calendars sync.
	AccountActive AccountStatus = "active"
	// AccountNeedsReauth: the provider refused the grant (the refresh
	// token was revoked or expired: invalid_grant; or the provider
	// answered 401 to a freshly refreshed token). Every calendar of the
	// account is parked: no sync, retry, safety net, renewal or
	// discovery calls the provider until the user completes the connect
	// flow again ([Engine.ResumeAccount]).
	AccountNeedsReauth AccountStatus = "needs_reauth"
	// AccountDisconnected: the host disconnected the account
	// ([Engine.DisconnectAccount]); its calendars, subscriptions and
	// token are gone.
	AccountDisconnected AccountStatus = "disconnected"
)

// Account is what the Engine keeps about a host account (one OAuth grant
// at one provider): its status and the calendars last discovered in it.
// An account the Store has no record of counts as active.
type Account struct {
	// ID is the host's account id (Calendar.AccountID).
	ID string
	// Provider is the Name of the account's provider.
	Provider string
	// Status is the state of the grant.
	Status AccountStatus
	// Reason says why Status was last changed: for AccountNeedsReauth the
	// provider's error (an OAuth error code or an HTTP status, never a
	// token). Empty for AccountActive.
	Reason string
	// Changed is when Status last changed.
	Changed time.Time
	// Calendars are the account's calendars as last listed by
	// [Engine.ListCalendars] or the discovery sweep; nil if never listed.
	Calendars []CalendarInfo
}

// AccountStore is implemented by Stores that keep [Account] records: the
// state of each account's grant, which parks every calendar of an account
// whose grant was refused, for every instance sharing the Store.
// store/memory, store/sqlite and store/postgres implement it, and
// store/storetest checks any Store that does. Without it a refused grant
// is still reported, once per failed call, but nothing is parked.
//
// Every method must be safe for concurrent use. A lookup of an unknown
// account returns an error wrapping ErrNotFound. Accounts are returned
// with their own copy of Calendars.
type AccountStore interface {
	// Account returns the account with the given id.
	Account(ctx context.Context, id string) (Account, error)
	// ListAccounts returns every account, ordered by ID.
	ListAccounts(ctx context.Context) ([]Account, error)
	// SwapAccount stores a if the stored account a.ID has Status expect,
	// or, when expect is "", if no account a.ID is stored. It reports
	// whether it stored a (compare-and-swap, so that of several instances
	// seeing the same refusal exactly one reports the transition).
	SwapAccount(ctx context.Context, a Account, expect AccountStatus) (bool, error)
	// DeleteAccount deletes an account record.
	DeleteAccount(ctx context.Context, id string) error
}

// accountStore returns the Store as an AccountStore, if it is one.
func (e *Engine) accountStore() (AccountStore, bool) {
	as, ok := e.cfg.Store.(AccountStore)
	return as, ok
}

// errAccountParked is what a sync of a calendar whose account needs
// reauthorization returns, without calling the provider.
var errAccountParked = fmt.Errorf("account parked until the user reconnects it: %w", ErrReauthRequired)

// accountParkedErr returns errAccountParked if the account is not active,
// nil if it is (or the Store keeps no accounts), or the error reading it.
func (e *Engine) accountParkedErr(ctx context.Context, accountID string) error {
	as, ok := e.accountStore()
	if !ok || accountID == "" {
		return nil
	}
	a, err := as.Account(ctx, accountID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("calsync: account %s: %w", accountID, err)
	case a.Status != AccountActive:
		return errAccountParked
	}
	return nil
}

// Account returns what the Store keeps about an account (an error
// wrapping ErrNotFound if it keeps nothing: such an account counts as
// active). The Store must implement [AccountStore].
func (e *Engine) Account(ctx context.Context, id string) (Account, error) {
	as, ok := e.accountStore()
	if !ok {
		return Account{}, fmt.Errorf("calsync: Account: %w: the Store does not implement AccountStore", errors.ErrUnsupported)
	}
	return as.Account(ctx, id)
}

// Accounts returns every account the Store keeps, ordered by ID. The
// Store must implement [AccountStore].
func (e *Engine) Accounts(ctx context.Context) ([]Account, error) {
	as, ok := e.accountStore()
	if !ok {
		return nil, fmt.Errorf("calsync: Accounts: %w: the Store does not implement AccountStore", errors.ErrUnsupported)
	}
	return as.ListAccounts(ctx)
}

// maxAccountReason bounds Account.Reason.
const maxAccountReason = 512

// setAccountStatus moves the account to status unless it is there already,
// and fires OnAccountStatus if this call moved it. mutate, if not nil,
// changes the stored record further (before the swap). It reports whether
// this call changed the status.
func (e *Engine) setAccountStatus(ctx context.Context, id, providerName string, status AccountStatus, reason string, mutate func(*Account)) (bool, error) {
	as, ok := e.accountStore()
	if !ok {
		return false, nil
	}
	if len(reason) > maxAccountReason {
		reason = reason[:maxAccountReason]
	}
	for range maxConflicts + 1 {
		cur, err := as.Account(ctx, id)
		expect := cur.Status
		if errors.Is(err, ErrNotFound) {
			cur, expect = Account{ID: id, Provider: providerName, Status: AccountActive}, ""
		} else if err != nil {
			return false, err
		}
		prev := cur.Status
		next := cur
		next.Calendars = slices.Clone(cur.Calendars)
		if next.Provider == "" {
			next.Provider = providerName
		}
		if mutate != nil {
			mutate(&next)
		}
		changed := prev != status
		if changed {
			next.Status, next.Reason, next.Changed = status, reason, e.cfg.Now()
		}
		if !changed && expect != "" && mutate == nil {
			return false, nil
		}
		swapped, err := as.SwapAccount(ctx, next, expect)
		if err != nil {
			return false, err
		}
		if !swapped {
			continue // another instance changed it meanwhile: look again
		}
		if changed {
			e.accountChanged(ctx, next, prev)
		}
		return changed, nil
	}
	return false, fmt.Errorf("calsync: account %s changed concurrently too often: %w", id, ErrConflict)
}

// accountChanged reports a status change: log, gauge and OnAccountStatus.
func (e *Engine) accountChanged(ctx context.Context, a Account, prev AccountStatus) {
	log := e.log.InfoContext
	if a.Status == AccountNeedsReauth {
		log = e.log.WarnContext
	}
	log(ctx, "calsync: account status changed", "account", a.ID, "provider", a.Provider, "from", string(prev), "to", string(a.Status), "reason", a.Reason)
	if e.cfg.OnAccountStatus != nil {
		e.cfg.OnAccountStatus(ctx, a, prev)
	}
}

// reauthRequired parks cal's account after the provider refused its
// grant (cause wraps ErrReauthRequired). It reports whether this call
// moved the account to AccountNeedsReauth: the failure is reported to
// OnError only then, once, not for every call that finds it refused.
func (e *Engine) reauthRequired(ctx context.Context, cal Calendar, cause error) bool {
	if _, ok := e.accountStore(); !ok || cal.AccountID == "" {
		return true // nothing parks it: report every failure
	}
	changed, err := e.setAccountStatus(context.WithoutCancel(ctx), cal.AccountID, cal.Provider, AccountNeedsReauth, reauthReason(cause), nil)
	if err != nil {
		e.log.WarnContext(ctx, "calsync: cannot park account that needs reauthorization", "account", cal.AccountID, "err", err)
		return true
	}
	return changed
}

// noteReauth parks cal's account if err is a refused grant found by a call
// the host made (Sync, Connect): the host has the error, so nothing is
// reported to OnError; OnAccountStatus fires as for any transition.
func (e *Engine) noteReauth(ctx context.Context, cal Calendar, err error) {
	if err != nil && errors.Is(err, ErrReauthRequired) && !errors.Is(err, errAccountParked) {
		e.reauthRequired(ctx, cal, err)
	}
}

// reauthReason is the Reason stored for a refused grant: the provider
// error's code and message, which never carry a token.
func reauthReason(err error) string {
	if pe, ok := errors.AsType[*provider.Error](err); ok {
		if pe.Reason != "" {
			return fmt.Sprintf("%s (HTTP %d)", pe.Reason, pe.StatusCode)
		}
		return fmt.Sprintf("HTTP %d", pe.StatusCode)
	}
	return ErrReauthRequired.Error()
}

// ResumeAccount marks the account active again after the user completed
// the connect flow (its new token already stored), creating its record
// if the Store has none, and resumes every calendar of the account: a
// subscription that lapsed or is about to (renewal made no provider call
// while the account was parked) is renewed or recreated, then each
// calendar syncs from its stored cursor (a full sync only where the
// provider says the cursor expired meanwhile). OnAccountStatus fires if
// the status changed. Calendars are resumed one after another in the
// caller's goroutine; the failures of single calendars are reported to
// OnError and joined into the error.
func (e *Engine) ResumeAccount(ctx context.Context, accountID, providerName string) error {
	if accountID == "" {
		return errors.New("calsync: ResumeAccount: account ID is empty")
	}
	if _, err := e.provider(providerName); err != nil {
		return fmt.Errorf("calsync: ResumeAccount %s: %w", accountID, err)
	}
	if _, err := e.setAccountStatus(ctx, accountID, providerName, AccountActive, "", nil); err != nil {
		return fmt.Errorf("calsync: ResumeAccount %s: %w", accountID, err)
	}
	cals, err := e.accountCalendars(ctx, accountID)
	if err != nil {
		return fmt.Errorf("calsync: ResumeAccount %s: %w", accountID, err)
	}
	var errs []error
	due := e.cfg.Now().Add(e.cfg.RenewBefore)
	for _, cal := range cals {
		subs, err := e.cfg.Store.ListSubscriptions(ctx, cal.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, s := range subs {
			if s.Expiration.After(due) {
				continue
			}
			if _, err := e.renewSubscription(ctx, s.ID, due); err != nil {
				errs = append(errs, err)
			}
		}
		if err := e.Process(ctx, Notification{Kind: Resync, Provider: cal.Provider, CalendarID: cal.ID}); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("calsync: ResumeAccount %s: %w", accountID, err)
	}
	return nil
}

// accountCalendars returns the connected calendars of an account.
func (e *Engine) accountCalendars(ctx context.Context, accountID string) ([]Calendar, error) {
	all, err := e.cfg.Store.ListCalendars(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(c Calendar) bool { return c.AccountID != accountID }), nil
}

// DisconnectAccount disconnects every calendar of the account (see
// [Engine.Disconnect]: its local state is removed even when the provider
// refuses to stop a subscription, as it does for a revoked grant), deletes
// its token (a Store that implements vault.Accounts) and marks it
// AccountDisconnected, firing OnAccountStatus.
func (e *Engine) DisconnectAccount(ctx context.Context, accountID string) error {
	if accountID == "" {
		return errors.New("calsync: DisconnectAccount: account ID is empty")
	}
	cals, err := e.accountCalendars(ctx, accountID)
	if err != nil {
		return fmt.Errorf("calsync: DisconnectAccount %s: %w", accountID, err)
	}
	var errs []error
	providerName := ""
	for _, cal := range cals {
		providerName = cal.Provider
		if err := e.Disconnect(ctx, cal.ID); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("calsync: DisconnectAccount %s: %w", accountID, err)
	}
	if tokens, ok := e.cfg.Store.(interface {
		DeleteAccountToken(ctx context.Context, accountID string) error
	}); ok {
		if err := tokens.DeleteAccountToken(ctx, accountID); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("calsync: DisconnectAccount %s: delete token: %w", accountID, err)
		}
	}
	if _, err := e.setAccountStatus(ctx, accountID, providerName, AccountDisconnected, "disconnected by the host", func(a *Account) { a.Calendars = nil }); err != nil {
		return fmt.Errorf("calsync: DisconnectAccount %s: %w", accountID, err)
	}
	return nil
}

// ListCalendars lists the calendars of an account at its provider (which
// must implement provider.CalendarLister: google and msgraph do), the
// primary one first, and remembers them in the account's record (a Store
// that implements [AccountStore]) as the base the discovery sweep
// compares with. A refused grant parks the account (see
// [AccountNeedsReauth]) and returns an error wrapping ErrReauthRequired;
// an account already parked is not asked.
func (e *Engine) ListCalendars(ctx context.Context, providerName, accountID string) ([]CalendarInfo, error) {
	p, err := e.provider(providerName)
	if err != nil {
		return nil, fmt.Errorf("calsync: ListCalendars %s: %w", accountID, err)
	}
	lister, ok := p.(provider.CalendarLister)
	if !ok {
		return nil, fmt.Errorf("calsync: ListCalendars %s: %w: provider %q cannot list calendars", accountID, errors.ErrUnsupported, providerName)
	}
	if err := e.accountParkedErr(ctx, accountID); err != nil {
		return nil, fmt.Errorf("calsync: ListCalendars %s: %w", accountID, err)
	}
	callCtx, end := e.startCall(ctx, opListCalendars, providerName, attrAccount.String(accountID))
	cals, err := lister.ListCalendars(callCtx, accountID)
	end(err)
	if err != nil {
		if errors.Is(err, ErrReauthRequired) {
			e.reauthRequired(ctx, Calendar{Provider: providerName, AccountID: accountID}, err)
		}
		return nil, fmt.Errorf("calsync: ListCalendars %s: %w", accountID, err)
	}
	if _, ok := e.accountStore(); ok {
		if _, err := e.setAccountStatus(ctx, accountID, providerName, AccountActive, "", func(a *Account) { a.Calendars = slices.Clone(cals) }); err != nil {
			e.log.WarnContext(ctx, "calsync: cannot remember the account's calendars", "account", accountID, "err", err)
		}
	}
	return cals, nil
}

// discover lists the calendars of every active account and reports those
// added or removed since the last listing (SweepDiscover). Accounts whose
// provider cannot list calendars are skipped.
func (e *Engine) discover(ctx context.Context) (int, error) {
	as, ok := e.accountStore()
	if !ok {
		return 0, nil
	}
	accts, err := as.ListAccounts(ctx)
	if err != nil {
		return 0, fmt.Errorf("calsync: discover: %w", err)
	}
	var (
		n    int
		errs []error
	)
	for _, a := range accts {
		if a.Status != AccountActive {
			continue
		}
		p, err := e.provider(a.Provider)
		if err != nil {
			continue // a provider this Engine does not serve
		}
		if _, ok := p.(provider.CalendarLister); !ok {
			continue
		}
		cals, err := e.ListCalendars(ctx, a.Provider, a.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n++
		if a.Calendars == nil {
			continue // first listing: nothing to compare with
		}
		added, removed := diffCalendars(a.Calendars, cals)
		if len(added)+len(removed) == 0 {
			continue
		}
		e.log.InfoContext(ctx, "calsync: account's calendars changed", "account", a.ID, "added", len(added), "removed", len(removed))
		if e.cfg.OnCalendarsChanged != nil {
			a.Calendars = cals
			e.cfg.OnCalendarsChanged(ctx, a, added, removed)
		}
	}
	return n, errors.Join(errs...)
}

// diffCalendars returns the calendars of now that were not in before, and
// those of before that are not in now, by ID.
func diffCalendars(before, now []CalendarInfo) (added, removed []CalendarInfo) {
	in := func(list []CalendarInfo, id string) bool {
		return slices.ContainsFunc(list, func(c CalendarInfo) bool { return c.ID == id })
	}
	for _, c := range now {
		if !in(before, c.ID) {
			added = append(added, c)
		}
	}
	for _, c := range before {
		if !in(now, c.ID) {
			removed = append(removed, c)
		}
	}
	return added, removed
}

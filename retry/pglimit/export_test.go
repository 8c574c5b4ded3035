package pglimit

// SetWaitHook makes l call f with "rate" or "slot" when an Acquire starts
// to wait, so tests can act on a waiter without sleeping.
func SetWaitHook(l *Limiter, f func(what string)) { l.onWait = f }

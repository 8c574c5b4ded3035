package retry

// AccountsTracked is how many accounts l holds state for.
func (l *Limiter) AccountsTracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.accounts)
}

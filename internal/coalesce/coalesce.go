// Package coalesce runs at most one job per key at a time and folds the
// requests that arrive while a job runs into exactly one follow-up run.
package coalesce

import "sync"

// Group coalesces runs per key. The zero Group is ready to use.
type Group struct {
	mu    sync.Mutex
	state map[string]*entry
}

type entry struct {
	dirty bool
	done  chan struct{} // closed when the current run (and follow-ups) end
}

// Do runs fn for key unless a run for key is under way, in which case it
// marks key dirty and returns false at once: the running caller will run fn
// once more after its current run. A burst of requests during one run thus
// costs exactly one follow-up run. Do returns true if this caller ran fn.
//
// fn's error is passed to onErr (if non-nil) for every run; runs continue
// while the key stays dirty.
func (g *Group) Do(key string, fn func() error, onErr func(error)) bool {
	g.mu.Lock()
	if g.state == nil {
		g.state = make(map[string]*entry)
	}
	if e, ok := g.state[key]; ok {
		e.dirty = true
		g.mu.Unlock()
		return false
	}
	e := &entry{done: make(chan struct{})}
	g.state[key] = e
	g.mu.Unlock()

	// Release key however the loop ends: if fn panics and someone up the
	// stack recovers (net/http does), a key left behind would stop every
	// later run for it and block Wait forever.
	defer func() {
		g.mu.Lock()
		delete(g.state, key)
		g.mu.Unlock()
		close(e.done)
	}()
	for {
		if err := fn(); err != nil && onErr != nil {
			onErr(err)
		}
		g.mu.Lock()
		if !e.dirty {
			g.mu.Unlock()
			return true
		}
		e.dirty = false
		g.mu.Unlock()
	}
}

// Wait returns a channel that is closed when the run for key under way (if
// any) and its follow-ups have finished. It returns a closed channel when
// nothing runs for key.
func (g *Group) Wait(key string) <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e, ok := g.state[key]; ok {
		return e.done
	}
	c := make(chan struct{})
	close(c)
	return c
}

package calsync

import (
	"context"
	"sync"
)

// Queue carries notifications from webhook handlers to Engine workers.
//
// Enqueue must not block for long: handlers call it while the provider waits
// for an answer. It returns an error (ErrQueueFull, or the queue's own) when
// the notification cannot be queued; the handler then answers 503 so that
// the provider redelivers. It may return ErrAlreadyQueued instead of
// queueing a notification that asks for a sync of a calendar whose sync is
// already waiting in the queue (see [Notification.SyncKey]): a burst of
// notifications then costs one sync, not one each. Dequeue blocks until a
// notification is available or ctx is done. Implementations must be safe
// for concurrent use.
type Queue interface {
	Enqueue(ctx context.Context, n Notification) error
	Dequeue(ctx context.Context) (Notification, error)
}

// DefaultQueueCapacity is the capacity of the queue NewMemoryQueue makes when
// given a capacity of zero or less.
const DefaultQueueCapacity = 10000

// MemoryQueue is the in-process Queue: a bounded buffer. It is the Engine's
// default. Notifications in it are lost if the process dies; that is safe
// because the providers redeliver unacknowledged ones and the Engine's
// catch-up sync recovers the rest.
//
// It keeps at most one waiting sync per calendar: a notification whose
// SyncKey is already waiting is refused with ErrAlreadyQueued. Once a
// worker has taken it, the next one queues again (and is folded into the
// running sync, which then runs once more).
type MemoryQueue struct {
	ch chan Notification

	mu      sync.Mutex
	waiting map[string]bool // SyncKeys in ch
}

var _ Queue = (*MemoryQueue)(nil)

// NewMemoryQueue returns a MemoryQueue holding up to capacity notifications
// (DefaultQueueCapacity if capacity <= 0).
func NewMemoryQueue(capacity int) *MemoryQueue {
	if capacity <= 0 {
		capacity = DefaultQueueCapacity
	}
	return &MemoryQueue{ch: make(chan Notification, capacity), waiting: make(map[string]bool)}
}

// Enqueue adds n, or returns ErrAlreadyQueued if a sync of its calendar is
// already waiting, or ErrQueueFull at once if the queue is full.
func (q *MemoryQueue) Enqueue(ctx context.Context, n Notification) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key := n.SyncKey()
	q.mu.Lock()
	defer q.mu.Unlock()
	if key != "" && q.waiting[key] {
		return ErrAlreadyQueued
	}
	select {
	case q.ch <- n:
		if key != "" {
			q.waiting[key] = true
		}
		return nil
	default:
		return ErrQueueFull
	}
}

// Dequeue removes the oldest notification, waiting for one until ctx is done.
func (q *MemoryQueue) Dequeue(ctx context.Context) (Notification, error) {
	select {
	case n := <-q.ch:
		if key := n.SyncKey(); key != "" {
			q.mu.Lock()
			delete(q.waiting, key)
			q.mu.Unlock()
		}
		return n, nil
	case <-ctx.Done():
		return Notification{}, ctx.Err()
	}
}

// Len returns the number of queued notifications.
func (q *MemoryQueue) Len() int { return len(q.ch) }

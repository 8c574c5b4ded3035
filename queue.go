package calsync

import "context"

// Queue carries notifications from webhook handlers to Engine workers.
//
// Enqueue must not block for long: handlers call it while the provider waits
// for an answer. It returns an error (ErrQueueFull, or the queue's own) when
// the notification cannot be queued; the handler then answers 503 so that
// the provider redelivers. Dequeue blocks until a notification is available
// or ctx is done. Implementations must be safe for concurrent use.
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
type MemoryQueue struct {
	ch chan Notification
}

var _ Queue = (*MemoryQueue)(nil)

// NewMemoryQueue returns a MemoryQueue holding up to capacity notifications
// (DefaultQueueCapacity if capacity <= 0).
func NewMemoryQueue(capacity int) *MemoryQueue {
	if capacity <= 0 {
		capacity = DefaultQueueCapacity
	}
	return &MemoryQueue{ch: make(chan Notification, capacity)}
}

// Enqueue adds n, or returns ErrQueueFull at once if the queue is full.
func (q *MemoryQueue) Enqueue(ctx context.Context, n Notification) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case q.ch <- n:
		return nil
	default:
		return ErrQueueFull
	}
}

// Dequeue removes the oldest notification, waiting for one until ctx is done.
func (q *MemoryQueue) Dequeue(ctx context.Context) (Notification, error) {
	select {
	case n := <-q.ch:
		return n, nil
	case <-ctx.Done():
		return Notification{}, ctx.Err()
	}
}

// Len returns the number of queued notifications.
func (q *MemoryQueue) Len() int { return len(q.ch) }

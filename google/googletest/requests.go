package googletest

import (
	"net/http"
	"time"
)

// Request is one entry of the request log returned by [Server.Requests]:
// an API call as the server answered it.
type Request struct {
	// Op is the operation, one of the Op constants (OpEventsList, ...).
	Op string
	// CalendarID is the calendar as named in the request path ("primary"
	// is not resolved); "" for channels.stop.
	CalendarID string
	// Status is the HTTP status answered; 0 when the client went away
	// before an answer (during [Server.SetLatency]'s delay).
	Status int
	// Time is Config.Now when the request arrived.
	Time time.Time
}

// Requests returns a copy of the request log: every API call to an
// emulated operation, in the order they arrived, including those answered
// with 401 or an injected fault. Requests to unknown paths are not logged.
func (s *Server) Requests() []Request {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RequestCount returns how many logged requests match op and calendarID;
// an empty op or calendarID matches any. For example
// RequestCount(OpEventsList, "alice@example.com") counts the events.list
// calls on that calendar, whatever their answer.
func (s *Server) RequestCount(op, calendarID string) int {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	n := 0
	for _, r := range s.requests {
		if (op == "" || r.Op == op) && (calendarID == "" || r.CalendarID == calendarID) {
			n++
		}
	}
	return n
}

// loggingWriter logs its request when the status is written, before the
// client can see the answer, so a client that counts requests right after a
// call always finds it in the log.
type loggingWriter struct {
	http.ResponseWriter
	s      *Server
	entry  Request
	logged bool
}

func (w *loggingWriter) WriteHeader(code int) {
	if !w.logged {
		w.entry.Status = code
		w.flush()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *loggingWriter) Write(b []byte) (int, error) {
	if !w.logged {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// flush appends the entry to the request log once.
func (w *loggingWriter) flush() {
	if w.logged {
		return
	}
	w.logged = true
	w.s.rmu.Lock()
	defer w.s.rmu.Unlock()
	w.s.requests = append(w.s.requests, w.entry)
}

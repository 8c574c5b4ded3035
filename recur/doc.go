// Package recur expands recurring events: an RFC 5545 recurrence set (a
// start, and the RRULE, EXRULE, RDATE and EXDATE lines Google returns in
// an event's recurrence) between two instants, with the series'
// exceptions applied. calsync uses it for Engine.EventsBetween and its
// emulators; host applications can use it on their own data too.
//
// # Time zones
//
// A timed series keeps its wall-clock time in its IANA zone: a 09:00
// meeting in Europe/Berlin is at 08:00 UTC in winter and 07:00 UTC in
// summer. A local time that does not exist (the hour skipped when clocks
// go forward) is read with the offset before the change, and one that
// occurs twice is the first, as RFC 5545 section 3.3.5 says. An all-day
// series' occurrences are dates, placed in time by the location of the
// range asked for.
//
// # Exceptions
//
// A series' exceptions are events of their own, linked to it by
// RecurringEventID and OriginalStart (the occurrence they replace). [Expand]
// drops the occurrence an exception replaces, returns the exception where
// it now is (if it overlaps the range), and drops the occurrence of a
// cancelled exception altogether.
//
// The expansion is github.com/teambition/rrule-go's, with the defaults
// RFC 5545 takes from DTSTART written into each rule so that a rule can be
// restarted near the range asked for: expanding one month of a daily
// series that began ten years ago costs one month of work, not ten years.
package recur

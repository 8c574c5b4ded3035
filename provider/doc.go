// Package provider defines what a calendar provider implements for calsync,
// and the value types that flow between providers, the Engine and Stores.
//
// It is to package calsync what database/sql/driver is to database/sql: a
// small leaf package, importing only the standard library, that the google
// and msgraph packages implement. Host applications use the same types
// through the aliases in package calsync (calsync.Event, calsync.Change).
//
// # Paging and cursors
//
// [Provider.Fetch] returns one [Page] at a time so that the Engine can write
// each page to the Store in one transaction together with the position it
// reached, and so that a full sync of a large calendar never holds more than
// one page in memory. A [Position] with an empty Cursor is a full sync.
package provider

-- calsync store/sqlite schema, version 7: Event.Details, the normalized
-- descriptive fields (description, location, availability, visibility,
-- organizer, attendees, meeting URL, web link, created), as one JSON
-- document (store/internal/details); NULL when the event has none.

ALTER TABLE events ADD COLUMN details TEXT;

"""The registrar's help desk: search, the attendee card, corrections, health verification, reprints,
walk-ups, the desk case queue, staff management pages and the staff JSON API."""

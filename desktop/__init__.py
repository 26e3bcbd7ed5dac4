"""Folio's Qt desktop app (built in a later part; it knows core only through Library)."""

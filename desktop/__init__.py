"""Folio's Qt desktop app (it knows core only through Library and the engine)."""

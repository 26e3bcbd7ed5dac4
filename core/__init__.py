"""Folio's headless engine: library, readers, chunking, embedding, search and answers."""

__version__ = "0.1.0"

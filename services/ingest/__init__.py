"""Ingest: the contributor API that writes news items and their events (outbox)."""

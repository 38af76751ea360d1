"""Reliable messaging: transactional outbox, inbox (idempotent handlers), topology, dead letters."""

"""Typed contracts of what crosses the bus (the suite's side of docs/api/bus.md)."""

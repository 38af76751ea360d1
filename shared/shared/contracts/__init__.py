"""Typed contracts of what crosses the bus (the suite's side of ../shared/contract/)."""

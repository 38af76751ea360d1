"""An outside consumer of the commerce suite's public events (docs/extending.md)."""

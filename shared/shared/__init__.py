"""The suite's own common library. Nothing here imports nameko except `shared.nameko`."""

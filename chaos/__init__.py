"""`make chaos`: a Jepsen-style run of the whole suite on private servers (see chaos/run.py)."""

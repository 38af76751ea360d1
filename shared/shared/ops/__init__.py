"""`suite-ops` (`python -m shared.ops`): queue depths, outbox lag and dead-letter queues, for
operators. Talks AMQP 0-9-1 with pika (no management plugin needed); see docs/operations.md."""


class Refusal(Exception):
    """Bad input: reported as one line on stderr with exit status 2; nothing was changed."""

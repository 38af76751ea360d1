"""Helpers for the suite's tests: throwaway broker vhost and databases, processes, AMQP client."""

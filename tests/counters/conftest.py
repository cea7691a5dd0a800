"""Fixtures of the counters' tests."""

from tests.counters.fixtures import backends, redis_client, redis_prefix

__all__ = ["backends", "redis_client", "redis_prefix"]

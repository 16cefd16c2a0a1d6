"""Shared pytest set-up: the real-registry fixtures live in tests/support."""

pytest_plugins = ["support.fixtures"]

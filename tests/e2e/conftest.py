"""Fixtures of the end-to-end tests: `service` (in tests/conftest.py) starts the whole service."""

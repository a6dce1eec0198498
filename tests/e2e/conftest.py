"""Fixtures of the end-to-end tests: `service`, `graph` and `whatsapp_service` (in
tests/conftest.py) start the whole service, with its WhatsApp channel on the fake Graph API."""

"""What the use cases stand on: configuration, the database and its schema, bulk writes, the
clock, health, heartbeats, metrics and the audit trail."""

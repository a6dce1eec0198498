"""What goes out to a phone and what the service remembers of one: the outbox and its dispatch,
reply limits, floods, phone state and broadcasts."""

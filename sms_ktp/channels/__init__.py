"""How residents' messages come in: SMS (webhooks and polled modems), USSD sessions and the
terminal phone, each handed to the dialogues of `flows`."""

"""An application's life: its stages and their SMS, penunggalan, printing, pickup, office
settings, staff decisions and assisted registration; `services` is what the dialogues call."""

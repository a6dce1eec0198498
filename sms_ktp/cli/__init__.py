"""The `sms-ktp` command (click): `main` holds the group and the service commands, one module
per group of sub-commands (`operator`, `staff`, `privacy`), `common` what they share."""

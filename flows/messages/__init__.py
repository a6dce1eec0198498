"""The message catalogues, one `<lang>.toml` per language (read by `flows.catalogue`), and the
version of the consent wording they hold."""

# The version of the consent sentence (`consent.purpose` in every catalogue, repeated in the
# summaries a resident confirms with YA), stored with each application as
# `application.consent_version`: what the resident agreed to. Give it a new value whenever that
# sentence changes in any language; tests/flows/test_consent.py keeps every version's wording
# and fails when the catalogues say something else.
CONSENT_VERSION = "2026-11"

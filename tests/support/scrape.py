"""Prometheus text read back the way Prometheus reads it, for tests that count."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    """Every sample of one scrape: `scrape["sms_ktp_inbound_sms_total", "outcome=accepted"]`."""

    def __init__(self, text: str) -> None:
        self.families = {family.name: family for family in text_string_to_metric_families(text)}
        self.values = {
            (sample.name, ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))):
                sample.value
            for family in self.families.values() for sample in family.samples}

    def __getitem__(self, key: str | tuple[str, str]) -> float:
        name, labels = (key, "") if isinstance(key, str) else key
        return self.values[name, labels]

    def __contains__(self, name: str) -> bool:
        return any(sample_name == name for sample_name, _ in self.values)

    def moved(self, before: Scrape) -> dict[tuple[str, str], float]:
        """The samples whose value changed since `before` (timestamps of creation left out)."""
        return {key: value - before.values.get(key, 0.0) for key, value in self.values.items()
                if value != before.values.get(key, 0.0) and not key[0].endswith("_created")}

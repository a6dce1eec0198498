"""Prometheus metrics: counters and histograms are incremented where things happen (the webhooks,
the dispatcher) and cost a memory write; the outbox and worker gauges are read from the database
when `/metrics` is scraped (`health.check`), so every web process reports the same values and no
process has to keep them up to date.

Production runs several processes: gunicorn's web workers and `sms-ktp worker`. Each counts what
it did. With `PROMETHEUS_MULTIPROC_DIR` in their environment (set before they start:
prometheus_client reads it when first imported) every process writes its values to files in that
folder, and a scrape of any web process adds them all up. The folder must be shared by all of
them and emptied before they start (not while any runs); gunicorn's `child_exit` hook calls
`child_exit` here. Without the variable (`sms-ktp serve`: one process) the values stay in memory.
The database gauges are not process values at all, so they need no multiprocess mode.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from gateway.base import Gateway
    from gateway.message import OutboundSms, SendResult
    from sms_ktp.platform.health import Health

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# `*_created` series double the series for nothing Prometheus uses here, and multiprocess mode
# has none: the output is the same in both modes without them.
disable_created_metrics()
# This process's metrics; never the library's default registry, whose process and platform
# collectors would be wrong under multiprocess mode and add noise otherwise.
REGISTRY = CollectorRegistry(auto_describe=True)

INBOUND_OUTCOMES = ("accepted", "duplicate", "non_mobile", "bad_request", "bad_token",
                    "ip_refused", "error")
# A WhatsApp message, or a webhook call refused: unsigned (no signature), bad_signature.
WHATSAPP_OUTCOMES = ("accepted", "duplicate", "non_mobile", "bad_request", "bad_token",
                     "unsigned", "bad_signature", "error")
USSD_OUTCOMES = ("continue", "end", "bad_request", "bad_token", "ip_refused", "error")
OUTBOUND_STATUSES = ("sent", "retry", "failed")
DELIVERY_STATUSES = ("sent", "buffered", "delivered", "undelivered", "unknown_message",
                     "bad_request", "bad_token", "ip_refused")
# Why a reply was not queued (`sms_ktp.messaging.limits`).
SUPPRESSED_REASONS = ("rate", "identical")
# Where residents get things done: `dialogue_completions` is counted by channel.
CHANNELS = ("sms", "whatsapp", "ussd")
DIALOGUE_KINDS = ("registration", "document", "status", "pickup_moved", "language",
                  "broadcast_opt_out", "broadcast_opt_in")

INBOUND_SMS = Counter(
    "sms_ktp_inbound_sms", "Inbound SMS by outcome: accepted (answered by a dialogue), duplicate "
    "(a provider's retry), non_mobile (short code or alphanumeric sender: not answered), "
    "bad_request, bad_token, ip_refused (refused webhook calls), error (failed, the provider "
    "retries)",
    ["outcome"], registry=REGISTRY)
INBOUND_WHATSAPP = Counter(
    "sms_ktp_inbound_whatsapp", "Inbound WhatsApp messages by outcome, as for SMS (accepted, "
    "duplicate: Meta's retry, non_mobile, error), and webhook calls refused: bad_request, "
    "bad_token, unsigned (no X-Hub-Signature-256), bad_signature", ["outcome"],
    registry=REGISTRY)
USSD_REQUESTS = Counter(
    "sms_ktp_ussd_requests", "USSD requests by outcome: continue (a menu screen), end (the "
    "session's last screen), bad_request, bad_token, ip_refused, error", ["outcome"],
    registry=REGISTRY)
DIALOGUE_COMPLETIONS = Counter(
    "sms_ktp_dialogue_completions", "What residents got done, by channel (sms, whatsapp, ussd) "
    "and kind: registration (a reference given), status (applications shown), pickup_moved, "
    "language, broadcast_opt_out, broadcast_opt_in", ["channel", "kind"], registry=REGISTRY)
OUTBOUND_SMS = Counter(
    "sms_ktp_outbound_sms", "Attempts to hand an SMS to the gateway, by result: sent, retry "
    "(a temporary failure, tried again later), failed (parked: permanent or out of attempts)",
    ["status"], registry=REGISTRY)
DELIVERY_REPORTS = Counter(
    "sms_ktp_delivery_reports", "Delivery reports from the gateway by status (unknown_message: "
    "an id we never sent; bad_request, bad_token, ip_refused: refused calls)", ["status"],
    registry=REGISTRY)
REPLIES_SUPPRESSED = Counter(
    "sms_ktp_replies_suppressed", "Replies to a resident's SMS not queued, by reason: rate (the "
    "phone had its SMS for the hour), identical (the same reply too many times in a row)",
    ["reason"], registry=REGISTRY)
SEND_DELAY = Histogram(
    "sms_ktp_outbound_send_delay_seconds", "From the moment an SMS was due (written, or released "
    "after quiet hours or a retry's backoff) to the gateway accepting it",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600), registry=REGISTRY)
GATEWAY_SECONDS = Histogram(
    "sms_ktp_gateway_send_seconds", "Duration of one call to the gateway's send, whatever its "
    "result", buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 15), registry=REGISTRY)

# Every known series exists from the start at 0, so that rate() and absent-value alerts work
# before the first event.
for _outcome in INBOUND_OUTCOMES:
    INBOUND_SMS.labels(_outcome)
for _outcome in WHATSAPP_OUTCOMES:
    INBOUND_WHATSAPP.labels(_outcome)
for _outcome in USSD_OUTCOMES:
    USSD_REQUESTS.labels(_outcome)
for _status in OUTBOUND_STATUSES:
    OUTBOUND_SMS.labels(_status)
for _status in DELIVERY_STATUSES:
    DELIVERY_REPORTS.labels(_status)
for _reason in SUPPRESSED_REASONS:
    REPLIES_SUPPRESSED.labels(_reason)
for _channel in CHANNELS:
    for _kind in DIALOGUE_KINDS:
        DIALOGUE_COMPLETIONS.labels(_channel, _kind)

# The webhook endpoints whose refusals are counted, and the counter that counts them.
_REFUSALS = {"webhooks.inbound_sms": INBOUND_SMS, "webhooks.ussd": USSD_REQUESTS,
             "webhooks.delivery_report": DELIVERY_REPORTS,
             "whatsapp_webhook.receive": INBOUND_WHATSAPP}


# --- where things happen ------------------------------------------------------------------------
def sms_received(outcome: str, channel: str = "sms", completed: Iterable[str] = ()) -> None:
    """An inbound message handled (`outcome`), counted with its `channel`'s (sms, whatsapp),
    and what it got done there."""
    (INBOUND_WHATSAPP if channel == "whatsapp" else INBOUND_SMS).labels(outcome).inc()
    dialogues_completed(channel, completed)


def ussd_answered(screen: str, completed: Iterable[str] = ()) -> None:
    USSD_REQUESTS.labels("end" if screen.startswith("END") else "continue").inc()
    dialogues_completed("ussd", completed)


def dialogues_completed(channel: str, kinds: Iterable[str]) -> None:
    for kind in kinds:
        DIALOGUE_COMPLETIONS.labels(channel, kind).inc()


def webhook_refused(endpoint: str | None, outcome: str) -> None:
    """A webhook call refused before it reached the service (`bad_request`, `bad_token`,
    `ip_refused`)."""
    counter = _REFUSALS.get(endpoint or "")
    if counter is not None:
        counter.labels(outcome).inc()


def replies_suppressed(reasons: Iterable[str]) -> None:
    """Replies the per-phone limits kept out of the outbox (one reason each)."""
    for reason in reasons:
        REPLIES_SUPPRESSED.labels(reason).inc()


def delivery_report(status: str | None) -> None:
    """`status`: the one reported, None when the message id is unknown."""
    DELIVERY_REPORTS.labels(status or "unknown_message").inc()


def dispatched(sent: int, retried: int, failed: int) -> None:
    """One round of the dispatcher (`DispatchStats`)."""
    for status, count in (("sent", sent), ("retry", retried), ("failed", failed)):
        if count:
            OUTBOUND_SMS.labels(status).inc(count)


def sent_after(delay: timedelta) -> None:
    SEND_DELAY.observe(max(0.0, delay.total_seconds()))


def timed_send(gateway: Gateway, sms: OutboundSms) -> SendResult:
    """`gateway.send(sms)`, its duration observed whether it succeeds or raises (without the
    time a rate limit made it wait: that is the city's pace, not the gateway's)."""
    started = time.perf_counter()
    try:
        return gateway.send(sms)
    finally:
        waited = getattr(gateway, "last_wait", 0.0)
        GATEWAY_SECONDS.observe(max(0.0, time.perf_counter() - started - waited))


# --- the scrape ---------------------------------------------------------------------------------
class _HealthCollector(Collector):
    """The database's view (`health.check`), as gauges of this one scrape."""

    def __init__(self, report: Health) -> None:
        self.report = report

    def collect(self) -> Iterator[Metric]:
        report = self.report
        yield GaugeMetricFamily("sms_ktp_database_up", "1 when the database answered the scrape",
                                value=1 if report.database else 0)
        yield GaugeMetricFamily("sms_ktp_healthy", "1 when /healthz answers 200",
                                value=1 if report.healthy else 0)
        if not report.database:
            return
        backlog = GaugeMetricFamily(
            "sms_ktp_outbox_backlog", "SMS not sent yet, by status (queued includes the ones "
            "held back until later)", labels=["status"])
        backlog.add_metric(["queued"], report.outbox_queued or 0)
        backlog.add_metric(["sending"], report.outbox_sending or 0)
        yield backlog
        yield GaugeMetricFamily("sms_ktp_outbox_not_due", "Queued SMS held back until later "
                                "(quiet hours, a broadcast's pace, a retry's backoff)",
                                value=report.outbox_not_due or 0)
        yield GaugeMetricFamily("sms_ktp_outbox_oldest_due_age_seconds",
                                "How long the SMS due longest has waited unsent (0: none)",
                                value=report.oldest_queued_age_seconds or 0.0)
        if report.worker_heartbeat_age_seconds is not None:  # absent: no worker ever beat
            yield GaugeMetricFamily("sms_ktp_worker_heartbeat_age_seconds",
                                    "Seconds since the freshest worker heartbeat",
                                    value=report.worker_heartbeat_age_seconds)


class _Collectors(Collector):
    """Several collectors as one: the registry's own duplicate check is not needed here."""

    def __init__(self, *collectors: Any) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition(report: Health | None) -> bytes:
    """The text a scrape gets: every process's counters (this one's alone without multiprocess
    mode) and, given a report, the database gauges."""
    registry = CollectorRegistry()
    process: Any = REGISTRY
    if multiprocess_dir():
        process = _multiprocess.MultiProcessCollector(None)
    registry.register(_Collectors(process, *([_HealthCollector(report)] if report else [])))
    return generate_latest(registry)


def mark_process_dead(pid: int) -> None:
    """Forget a dead process's live gauges (its counters stay in the sums, as they should)."""
    if multiprocess_dir():
        _multiprocess.mark_process_dead(pid)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's `child_exit` server hook, for its config file:
    `child_exit = "sms_ktp.platform.metrics.child_exit"`."""
    mark_process_dead(worker.pid)

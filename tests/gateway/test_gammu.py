"""gammu-smsd adapter: against a real gammu-smsd (dummy phone, PostgreSQL), plus the rules that
need no daemon (status mapping, cutting and joining concatenated SMS, settings)."""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from gateway.base import Gateway, PollingGateway
from gateway.gammu import (
    DELIVERY_STATUS_MAP,
    DROPPED,
    PROVIDER,
    GammuGateway,
    GammuSettings,
    SentPart,
    message_status,
)
from gateway.gammu_parts import (
    DEFAULT_CODING,
    UNICODE_CODING,
    InboxPart,
    concat_udh,
    join_parts,
    parse_udh,
    split_text,
)
from gateway.message import InboundSms, OutboundSms, PermanentFailure, TemporaryFailure

if TYPE_CHECKING:
    from gammu_daemon import GammuDaemon

PHONE_ID = "modem1"  # the helper's dummy phone

PHONE = "+6281234567890"
CITIZEN = "+6281298765432"
LONG = "Kartu KTP-el Anda sudah dicetak. " * 11  # 363 GSM-7 characters: 3 parts
REG = "REG 3271010101010001#3271010101010002#"


def uid() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def gateway(gammu_daemon: GammuDaemon) -> Iterator[GammuGateway]:
    adapter = GammuGateway(GammuSettings(gammu_daemon.database_url, phone_id=PHONE_ID))
    yield adapter
    adapter.close()


def other_modem(daemon: GammuDaemon) -> GammuGateway:
    """An adapter writing for a modem no daemon serves: its SMS stay in the outbox to look at."""
    return GammuGateway(GammuSettings(daemon.database_url, phone_id="modem-elsewhere"))


def gammu_id(sms: InboundSms) -> str:
    """gammu's inbox ID in our provider_id (which adds the time it was received)."""
    return sms.provider_id.split("@")[0]


# --- status mapping (no daemon) -----------------------------------------------------------------
EXPECTED_MAP = {
    "SendingOK": "sent",
    "SendingOKNoReport": "sent",
    "DeliveryUnknown": "sent",
    "DeliveryPending": "buffered",
    "DeliveryOK": "delivered",
    "DeliveryFailed": "undelivered",
    "SendingError": "undelivered",
    "Error": "undelivered",
}


def test_every_gammu_status_has_its_delivery_status() -> None:
    from gammu_daemon import gammu_schema

    assert dict(DELIVERY_STATUS_MAP) == EXPECTED_MAP
    schema = gammu_schema()
    if schema is not None:  # the statuses sentitems' CHECK constraint allows, from gammu itself
        table = schema[schema.index("CREATE TABLE sentitems"):]
        allowed = re.search(r'CHECK \("Status" IN\s*\(([^)]*)\)', table)
        assert allowed is not None
        assert set(re.findall(r"'(\w+)'", allowed.group(1))) == set(EXPECTED_MAP)


@pytest.mark.parametrize(("raw", "status"), sorted(EXPECTED_MAP.items()))
def test_a_single_sms_takes_the_status_of_its_row(raw: str, status: str) -> None:
    decided = message_status([SentPart(1, raw)])
    assert decided is not None and decided[0] == status and decided[1].status == raw


def test_a_multipart_sms_is_as_far_as_its_least_advanced_part() -> None:
    udh = [concat_udh(7, 3, position) for position in (1, 2, 3)]
    parts = [SentPart(1, "DeliveryOK", 0, udh[0]), SentPart(2, "DeliveryPending", 0, udh[1]),
             SentPart(3, "DeliveryOK", 0, udh[2])]
    status, part = message_status(parts) or ("", None)
    assert (status, part and part.position) == ("buffered", 2)
    delivered = [SentPart(p.position, "DeliveryOK", 0, p.udh) for p in parts]
    assert (message_status(delivered) or ("",))[0] == "delivered"


def test_one_failed_part_fails_the_sms_even_before_the_others_are_sent() -> None:
    parts = [SentPart(1, "SendingOK", -1, concat_udh(9, 3, 1)),
             SentPart(2, "SendingError", -1, concat_udh(9, 3, 2))]
    status, part = message_status(parts) or ("", None)
    assert (status, part and part.status) == ("undelivered", "SendingError")


def test_nothing_is_reported_until_every_part_is_sent() -> None:
    assert message_status([SentPart(1, "DeliveryOK", 0, concat_udh(9, 2, 1))]) is None
    assert message_status([]) is None


# --- cutting and joining (no daemon) ------------------------------------------------------------
def test_a_text_that_fits_goes_as_one_sms() -> None:
    single = split_text("a" * 160)
    assert (single.coding, single.texts, single.multipart) == (DEFAULT_CODING, ("a" * 160,), False)
    assert split_text("ü" * 70).texts == ("ü" * 70,)  # ü is GSM-7
    assert split_text("“" * 70).coding == UNICODE_CODING


def test_a_long_gsm7_text_is_cut_at_153_septets_without_splitting_an_escape() -> None:
    parts = split_text("a" * 161)
    assert [len(t) for t in parts.texts] == [153, 8]
    parts = split_text("a" * 152 + "€" + "b" * 10)  # € takes two septets: not in part one
    assert parts.texts[0] == "a" * 152 and parts.texts[1].startswith("€")
    assert "".join(split_text(LONG).texts) == LONG and len(split_text(LONG).texts) == 3


def test_a_long_unicode_text_is_cut_at_67_units_without_splitting_an_emoji() -> None:
    parts = split_text("“" * 71)
    assert (parts.coding, [len(t) for t in parts.texts]) == (UNICODE_CODING, [67, 4])
    parts = split_text("x" * 66 + "😀" + "y" * 10)  # the emoji needs two units: next part
    assert parts.texts[0] == "x" * 66 and parts.texts[1].startswith("😀")


def test_concatenation_headers_are_read_and_written() -> None:
    assert concat_udh(0x1C3, 3, 2) == "050003C30302"
    assert parse_udh("050003C30302") is not None
    concat = parse_udh("050003C30302")
    assert concat is not None and (concat.reference, concat.total, concat.position) == (
        0xC3, 3, 2)
    wide = parse_udh("0608041234030102")  # 16-bit reference
    assert wide is not None and (wide.reference, wide.total, wide.position, wide.wide) == (
        0x1234, 3, 1, True)
    # a port-addressing element first, then the concatenation
    behind = parse_udh("0B0504000000000003AA0202")
    assert behind is not None and (behind.reference, behind.position) == (0xAA, 2)
    for junk in (None, "", "zz", "0500", "050003AA0003", "03"):
        assert parse_udh(junk) is None


def test_parts_are_joined_per_sender_and_reference_and_a_repeated_part_counts_once() -> None:
    rows = [
        InboxPart(1, CITIZEN, "m", "B", concat_udh(5, 2, 2)),
        InboxPart(2, "+6281111111111", "m", "other", None),
        InboxPart(3, CITIZEN, "m", "A", concat_udh(5, 2, 1)),
        InboxPart(4, CITIZEN, "m", "B", concat_udh(5, 2, 2)),
        InboxPart(5, "+6282222222222", "m", "X", concat_udh(5, 2, 1)),
    ]
    joined = join_parts(rows)
    assert [(m.text, m.complete, m.first.id, m.ids) for m in joined] == [
        ("AB", True, 3, (3, 1, 4)), ("other", True, 2, (2,)), ("X", False, 5, (5,))]


# --- settings -----------------------------------------------------------------------------------
def test_settings_come_from_the_toml_table() -> None:
    settings = GammuSettings.from_mapping({
        "database_url": "postgresql+psycopg://gammu:pw@db/smsd", "phone_id": "modem2",
        "creator_id": "kota-bogor", "delivery_report": False, "multipart_timeout_seconds": 30,
        "report_window_hours": 6, "local_timezone": "Asia/Makassar",
        "connect_timeout_seconds": 2.5, "modem_timeout_seconds": 300,
        "rate_per_second": 0.5,
    })
    assert (settings.phone_id, settings.creator_id, settings.delivery_report,
            settings.multipart_timeout_seconds, settings.local_timezone,
            settings.modem_timeout_seconds) == (
        "modem2", "kota-bogor", False, 30.0, "Asia/Makassar", 300.0)
    assert "pw" not in repr(settings)
    defaults = GammuSettings.from_mapping({"database_url": "postgresql://g"})
    assert (defaults.phone_id, defaults.delivery_report, defaults.local_timezone) == (
        "", True, "Asia/Jakarta")


@pytest.mark.parametrize(("table", "message"), [
    ({}, "database_url: required"),
    ({"database_url": ""}, "database_url: required"),
    ({"database_url": "not a url"}, "database_url: not a database URL"),
    ({"database_url": "postgresql://g", "phoneid": "m"}, "unknown key phoneid"),
    ({"database_url": "postgresql://g", "phone_id": 5}, "phone_id: must be a string"),
    ({"database_url": "postgresql://g", "delivery_report": "yes"},
     "delivery_report: must be true or false"),
    ({"database_url": "postgresql://g", "report_window_hours": "1"},
     "report_window_hours: must be a number"),
    ({"database_url": "postgresql://g", "report_window_hours": 0},
     "report_window_hours: must be positive"),
    ({"database_url": "postgresql://g", "multipart_timeout_seconds": -1},
     "multipart_timeout_seconds: must not be negative"),
    ({"database_url": "postgresql://g", "local_timezone": "Asia/Bogor"},
     "local_timezone: unknown time zone"),
    ({"database_url": "postgresql://g", "creator_id": " "}, "creator_id: must be 1 to 64"),
])
def test_a_wrong_table_is_refused_naming_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        GammuSettings.from_mapping(table)


def test_a_plain_postgresql_url_uses_psycopg_3() -> None:
    adapter = GammuGateway(GammuSettings("postgresql://gammu@127.0.0.1/smsd"))
    assert isinstance(adapter, Gateway) and isinstance(adapter, PollingGateway)
    assert adapter.name == PROVIDER == "gammu"
    assert adapter._engine.url.drivername == "postgresql+psycopg"
    adapter.close()


# --- failures without a daemon ------------------------------------------------------------------
def test_an_unreachable_database_is_a_temporary_failure_without_the_password() -> None:
    adapter = GammuGateway(GammuSettings("postgresql+psycopg://gammu:s3cret@127.0.0.1:1/smsd",
                                         connect_timeout_seconds=1))
    with pytest.raises(TemporaryFailure) as failure:
        adapter.send(OutboundSms(uid(), PHONE, "Halo"))
    assert "unreachable" in failure.value.reason and "s3cret" not in str(failure.value)
    assert failure.value.__cause__ is None and failure.value.__suppress_context__
    adapter.close()


@pytest.mark.parametrize("number", ["", "abc", "+62 812", "12", "+6281234567890123456"])
def test_a_number_that_cannot_be_a_msisdn_is_a_permanent_failure(number: str) -> None:
    adapter = GammuGateway(GammuSettings("postgresql+psycopg://gammu@127.0.0.1:1/smsd"))
    with pytest.raises(PermanentFailure, match="invalid phone number"):
        adapter.send(OutboundSms(uid(), number, "Halo"))


def test_a_text_longer_than_gammu_sends_is_a_permanent_failure() -> None:
    adapter = GammuGateway(GammuSettings("postgresql+psycopg://gammu@127.0.0.1:1/smsd"))
    with pytest.raises(PermanentFailure, match="51 parts"):
        adapter.send(OutboundSms(uid(), PHONE, "a" * 153 * 51))


# --- sending through the daemon -----------------------------------------------------------------
def test_an_sms_goes_through_outbox_and_sentitems_and_its_status_is_reported(
        gammu_daemon: GammuDaemon, gateway: GammuGateway) -> None:
    result = gateway.send(OutboundSms(uid(), PHONE, "Halo, KTP-el Anda siap diambil."))
    assert result.provider_message_id is not None and result.provider_message_id.isdigit()
    (row,) = gammu_daemon.wait_for_sent(result.provider_message_id)
    assert (row.DestinationNumber, row.TextDecoded, row.SenderID, row.Status, row.UDH) == (
        PHONE, "Halo, KTP-el Anda siap diambil.", PHONE_ID, "SendingOK", "")

    (report,) = gateway.delivery_reports()
    assert (report.provider, report.provider_message_id, report.status,
            report.provider_status) == (PROVIDER, result.provider_message_id, "sent", "SendingOK")
    assert gateway.delivery_reports() == []  # nothing new

    gammu_daemon.deliver_status_report(PHONE, "Delivered")
    gammu_daemon.wait_for('SELECT 1 FROM sentitems WHERE "Status" = \'DeliveryOK\'')
    (report,) = gateway.delivery_reports()
    assert (report.status, report.provider_status, report.failure_reason) == (
        "delivered", "DeliveryOK", None)


@pytest.mark.parametrize(("network", "status", "raw"), [
    ("Pending", "buffered", "DeliveryPending"),
    ("Failed", "undelivered", "DeliveryFailed"),
    ("Unknown", "sent", "DeliveryUnknown"),
])
def test_the_networks_delivery_reports_are_mapped(
        gammu_daemon: GammuDaemon, gateway: GammuGateway, network: str, status: str,
        raw: str) -> None:
    result = gateway.send(OutboundSms(uid(), PHONE, "Halo"))
    gammu_daemon.wait_for_sent(str(result.provider_message_id))
    gammu_daemon.deliver_status_report(PHONE, network)
    gammu_daemon.wait_for('SELECT 1 FROM sentitems WHERE "Status" = :raw', raw=raw)
    (report,) = [r for r in gateway.delivery_reports() if r.provider_status == raw]
    assert report.status == status
    if status == "undelivered":
        assert report.failure_reason == "the network could not deliver it, TP-Status 0"


def test_an_sms_gammu_smsd_throws_away_is_reported_undelivered(
        gammu_daemon: GammuDaemon) -> None:
    adapter = other_modem(gammu_daemon)
    queued = adapter.send(OutboundSms(uid(), PHONE, "Halo")).provider_message_id
    assert adapter.delivery_reports() == []  # waiting in the outbox: nothing to say
    # A row gammu-smsd cannot read ("Failed to decode Text HEX string"): it deletes it from the
    # outbox and writes nothing to sentitems.
    with gammu_daemon.engine.begin() as connection:
        connection.execute(text('UPDATE outbox SET "Coding" = \'8bit\', "Text" = \'ZZ\', '
                                '"SenderID" = :phone'), {"phone": PHONE_ID})
    gammu_daemon.wait_for("SELECT count(*) AS queued FROM outbox",
                          lambda rows: rows[0].queued == 0)
    (report,) = adapter.delivery_reports()
    assert (report.provider_message_id, report.status, report.provider_status) == (
        queued, "undelivered", DROPPED)
    assert gammu_daemon.rows("SELECT 1 FROM sentitems") == []
    assert adapter.delivery_reports() == []
    adapter.close()


def test_a_silent_modem_fails_the_send_so_that_a_fallback_can_take_it(
        gammu_daemon: GammuDaemon) -> None:
    adapter = GammuGateway(GammuSettings(gammu_daemon.database_url, phone_id=PHONE_ID,
                                         modem_timeout_seconds=2))
    gammu_daemon.stop()  # or the modem hangs: its phones row is no longer refreshed
    try:
        # not silent long enough yet (and a first look after a restart never is)
        assert adapter.send(OutboundSms(uid(), PHONE, "Halo")).provider_message_id
        time.sleep(2.5)
        queued = len(gammu_daemon.rows("SELECT 1 FROM outbox"))
        with pytest.raises(TemporaryFailure, match="gammu-smsd silent for"):
            adapter.send(OutboundSms(uid(), PHONE, "Halo"))
        assert len(gammu_daemon.rows("SELECT 1 FROM outbox")) == queued  # nothing written
    finally:
        gammu_daemon.start()
    result = adapter.send(OutboundSms(uid(), PHONE, "Halo"))
    gammu_daemon.wait_for_sent(str(result.provider_message_id))
    adapter.close()


def test_the_outbox_row_is_what_gammu_expects(gammu_daemon: GammuDaemon) -> None:
    adapter = other_modem(gammu_daemon)
    sms_id = uid()
    result = adapter.send(OutboundSms(sms_id, PHONE, "Halo"))
    (row,) = gammu_daemon.rows('SELECT * FROM outbox')
    assert (row.ID, row.DestinationNumber, row.TextDecoded, row.Text, row.Coding, row.Class,
            row.MultiPart, row.UDH, row.SenderID, row.CreatorID, row.DeliveryReport) == (
        int(str(result.provider_message_id)), PHONE, "Halo", None, "Default_No_Compression", -1,
        False, None, "modem-elsewhere", f"sms-ktp:{sms_id}", "yes")
    adapter.close()


def test_a_long_text_is_written_as_gammu_multipart_and_sent_as_its_parts(
        gammu_daemon: GammuDaemon, gateway: GammuGateway) -> None:
    waiting = other_modem(gammu_daemon)
    queued = int(str(waiting.send(OutboundSms(uid(), PHONE, LONG)).provider_message_id))
    first = gammu_daemon.rows('SELECT * FROM outbox WHERE "ID" = :id', id=queued)[0]
    more = gammu_daemon.rows('SELECT * FROM outbox_multipart WHERE "ID" = :id '
                             'ORDER BY "SequencePosition"', id=queued)
    reference = f"{queued % 256:02X}"
    assert (first.MultiPart, first.UDH, first.Class) == (True, f"050003{reference}0301", -1)
    assert [(r.SequencePosition, r.UDH, r.Coding, r.Class) for r in more] == [
        (2, f"050003{reference}0302", "Default_No_Compression", -1),
        (3, f"050003{reference}0303", "Default_No_Compression", -1)]
    assert first.TextDecoded + "".join(r.TextDecoded for r in more) == LONG
    waiting.close()

    result = gateway.send(OutboundSms(uid(), PHONE, LONG))
    rows = gammu_daemon.wait_for_sent(str(result.provider_message_id), parts=3)
    assert [(r.SequencePosition, r.Status) for r in rows] == [
        (1, "SendingOK"), (2, "SendingOK"), (3, "SendingOK")]
    assert "".join(r.TextDecoded for r in rows) == LONG
    reports = gateway.delivery_reports()
    assert [(r.provider_message_id, r.status) for r in reports] == [
        (result.provider_message_id, "sent")]  # one report for the three parts

    gammu_daemon.deliver_status_report(PHONE, "Delivered")  # the dummy gives every part TPMR 255
    gammu_daemon.wait_for('SELECT 1 FROM sentitems WHERE "ID" = :id AND "Status" = '
                          '\'DeliveryOK\'', id=int(str(result.provider_message_id)))
    assert [(r.provider_message_id, r.status) for r in gateway.delivery_reports()] == [
        (result.provider_message_id, "delivered")]


def test_a_long_unicode_text_goes_as_unicode_parts(
        gammu_daemon: GammuDaemon, gateway: GammuGateway) -> None:
    body = "Jadwal “ambil KTP” 😀 hari Senin. " * 5
    result = gateway.send(OutboundSms(uid(), PHONE, body))
    rows = gammu_daemon.wait_for_sent(str(result.provider_message_id), parts=3)
    assert {r.Coding for r in rows} == {"Unicode_No_Compression"}
    assert "".join(r.TextDecoded for r in rows) == body


def test_a_retried_send_writes_nothing_new(
        gammu_daemon: GammuDaemon, gateway: GammuGateway) -> None:
    waiting = other_modem(gammu_daemon)
    sms = OutboundSms(uid(), PHONE, LONG)
    first = waiting.send(sms)
    assert waiting.send(sms).provider_message_id == first.provider_message_id
    assert len(gammu_daemon.rows("SELECT 1 FROM outbox")) == 1
    assert len(gammu_daemon.rows("SELECT 1 FROM outbox_multipart")) == 2
    waiting.close()

    sms = OutboundSms(uid(), PHONE, "Halo")
    sent = gateway.send(sms)
    gammu_daemon.wait_for_sent(str(sent.provider_message_id))
    again = gateway.send(sms)  # after a crash: already moved to sentitems
    assert (again.provider_message_id, again.detail) == (
        sent.provider_message_id, "already in gammu sentitems")
    time.sleep(1.5)  # a daemon poll: nothing else to send
    assert len(gammu_daemon.rows('SELECT 1 FROM sentitems WHERE "ID" = :id',
                                 id=int(str(sent.provider_message_id)))) == 1
    assert len(gammu_daemon.rows("SELECT 1 FROM outbox WHERE \"SenderID\" = :p",
                                 p=PHONE_ID)) == 0


def test_two_workers_retrying_the_same_sms_at_once_write_it_once(
        gammu_daemon: GammuDaemon) -> None:
    adapters = [other_modem(gammu_daemon) for _ in range(4)]
    sms = OutboundSms(uid(), PHONE, "Halo")
    barrier = threading.Barrier(len(adapters))
    results: list[str | None] = []

    def send(adapter: GammuGateway) -> None:
        barrier.wait(10)
        results.append(adapter.send(sms).provider_message_id)

    threads = [threading.Thread(target=send, args=(a,)) for a in adapters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 4 and len(set(results)) == 1
    assert len(gammu_daemon.rows("SELECT 1 FROM outbox")) == 1
    for adapter in adapters:
        adapter.close()


# --- receiving through the daemon ---------------------------------------------------------------
def test_an_incoming_sms_is_claimed_once(gammu_daemon: GammuDaemon,
                                         gateway: GammuGateway) -> None:
    gammu_daemon.deliver_inbound(CITIZEN, REG)
    (row,) = gammu_daemon.wait_for_inbox(1)
    with gateway.claim_inbound() as batch:
        (sms,) = batch
    assert (sms.provider, gammu_id(sms), sms.sender, sms.recipient, sms.text) == (
        PROVIDER, str(row.ID), CITIZEN, PHONE_ID, REG)
    assert sms.received_at is not None
    received = datetime.fromisoformat(sms.received_at)
    assert received.utcoffset() == timedelta(hours=7)
    # a gammu database made anew counts its IDs from 1 again: the time keeps ours unique
    assert sms.provider_id == f"{row.ID}@{row.ReceivingDateTime:%Y%m%dT%H%M%S}"
    with gateway.claim_inbound() as batch:
        assert batch == []
    assert gammu_daemon.rows('SELECT "Processed" FROM inbox')[0].Processed is True


def test_the_sender_comes_as_gammu_gives_it(gammu_daemon: GammuDaemon,
                                            gateway: GammuGateway) -> None:
    gammu_daemon.deliver_inbound("081298765432", "INFO")
    gammu_daemon.wait_for_inbox(1)
    with gateway.claim_inbound() as batch:
        assert [(sms.sender, sms.text) for sms in batch] == [("081298765432", "INFO")]


def test_an_exception_in_the_with_block_leaves_the_sms_waiting(
        gammu_daemon: GammuDaemon, gateway: GammuGateway) -> None:
    gammu_daemon.deliver_inbound(CITIZEN, REG)
    gammu_daemon.wait_for_inbox(1)
    with pytest.raises(RuntimeError, match="crash"), gateway.claim_inbound() as batch:
        assert len(batch) == 1
        raise RuntimeError("crash while storing")
    assert gammu_daemon.rows('SELECT "Processed" FROM inbox')[0].Processed is False
    with gateway.claim_inbound() as batch:
        assert [sms.text for sms in batch] == [REG]


def test_a_long_incoming_sms_comes_as_one_message(gammu_daemon: GammuDaemon,
                                                  gateway: GammuGateway) -> None:
    assert gammu_daemon.deliver_inbound(CITIZEN, LONG) == 3
    rows = gammu_daemon.wait_for_inbox(3)
    assert all(parse_udh(r.UDH) for r in rows)
    with gateway.claim_inbound() as batch:
        assert [(gammu_id(sms), sms.text) for sms in batch] == [(str(rows[0].ID), LONG)]
    assert {r.Processed for r in gammu_daemon.rows('SELECT "Processed" FROM inbox')} == {True}


def test_an_incomplete_incoming_sms_waits_for_its_parts(gammu_daemon: GammuDaemon,
                                                        gateway: GammuGateway) -> None:
    # The network loses part 2 for a while: gammu-smsd waits its MultipartTimeout (1 s here),
    # then stores the parts it has, and stores part 2 when it comes.
    gammu_daemon.deliver_inbound(CITIZEN, LONG, parts=[1, 3])
    gammu_daemon.wait_for_inbox(2)
    with gateway.claim_inbound() as batch:
        assert batch == []
    gammu_daemon.deliver_inbound(CITIZEN, LONG, parts=[2])
    rows = gammu_daemon.wait_for_inbox(3)
    with gateway.claim_inbound() as batch:
        assert [(gammu_id(sms), sms.text) for sms in batch] == [(str(rows[0].ID), LONG)]


def test_an_incomplete_incoming_sms_comes_as_it_is_after_the_timeout(
        gammu_daemon: GammuDaemon) -> None:
    adapter = GammuGateway(GammuSettings(gammu_daemon.database_url, phone_id=PHONE_ID,
                                         multipart_timeout_seconds=1))
    parts = split_text(LONG).texts
    gammu_daemon.deliver_inbound(CITIZEN, LONG, parts=[1, 3])
    rows = gammu_daemon.wait_for_inbox(2)
    with adapter.claim_inbound() as batch:
        assert batch == []
    time.sleep(1.1)
    with adapter.claim_inbound() as batch:
        assert [(gammu_id(sms), sms.text) for sms in batch] == [
            (str(rows[0].ID), parts[0] + parts[2])]
    adapter.close()


def _inbox_rows(daemon: GammuDaemon, count: int, recipient: str = PHONE_ID) -> list[int]:
    with daemon.engine.begin() as connection:
        return [connection.execute(text(
            'INSERT INTO inbox ("Text", "SenderNumber", "UDH", "TextDecoded", "RecipientID") '
            "VALUES ('', :sender, '', :body, :recipient) RETURNING \"ID\""),
            {"sender": f"+62812{n:07d}", "body": f"INFO {n}", "recipient": recipient}).scalar_one()
            for n in range(count)]


def test_a_claimed_row_is_skipped_by_a_second_claimer(gammu_daemon: GammuDaemon) -> None:
    ids = [str(n) for n in _inbox_rows(gammu_daemon, 4)]
    first, second = (GammuGateway(GammuSettings(gammu_daemon.database_url)) for _ in range(2))
    with first.claim_inbound(limit=2) as mine, second.claim_inbound(limit=10) as theirs:
        assert [gammu_id(s) for s in mine] == ids[:2]
        assert [gammu_id(s) for s in theirs] == ids[2:]
    with second.claim_inbound() as rest:
        assert rest == []
    first.close()
    second.close()


def test_concurrent_claimers_never_get_the_same_row(gammu_daemon: GammuDaemon) -> None:
    ids = {str(n) for n in _inbox_rows(gammu_daemon, 60)}
    adapters = [GammuGateway(GammuSettings(gammu_daemon.database_url)) for _ in range(3)]
    barrier = threading.Barrier(len(adapters))
    claimed: list[list[str]] = [[] for _ in adapters]

    def claim(index: int) -> None:
        barrier.wait(10)
        while True:
            with adapters[index].claim_inbound(limit=4) as batch:
                claimed[index].extend(gammu_id(sms) for sms in batch)
                time.sleep(0.02)  # hold the lock while "storing"
            if not batch:
                return

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(adapters))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = [provider_id for mine in claimed for provider_id in mine]
    assert sorted(everything) == sorted(ids)  # each row once, none lost
    assert sum(1 for mine in claimed if mine) >= 2  # they did run side by side
    for adapter in adapters:
        adapter.close()


def test_phone_id_claims_only_that_modems_sms(gammu_daemon: GammuDaemon,
                                              gateway: GammuGateway) -> None:
    ours = _inbox_rows(gammu_daemon, 1)
    theirs = _inbox_rows(gammu_daemon, 1, recipient="modem2")
    with gateway.claim_inbound() as batch:
        assert [gammu_id(sms) for sms in batch] == [str(ours[0])]
    anyone = GammuGateway(GammuSettings(gammu_daemon.database_url))
    with anyone.claim_inbound() as batch:
        assert [(gammu_id(sms), sms.recipient) for sms in batch] == [
            (str(theirs[0]), "modem2")]
    anyone.close()


# --- the delivery report cursor -----------------------------------------------------------------
def _sentitem(daemon: GammuDaemon, gammu_id: int, updated: datetime, status: str = "SendingOK",
              creator: str | None = None) -> None:
    with daemon.engine.begin() as connection:
        connection.execute(text(
            'INSERT INTO sentitems ("ID", "UpdatedInDB", "Text", "DestinationNumber", "UDH", '
            '"SenderID", "CreatorID", "Status") VALUES (:id, :updated, \'\', :number, \'\', '
            ':phone, :creator, :status)'),
            {"id": gammu_id, "updated": updated, "number": PHONE, "phone": PHONE_ID,
             "creator": creator or f"sms-ktp:{uid()}", "status": status})


def test_reports_start_from_a_bounded_window_and_page_through_the_rest(
        gammu_daemon: GammuDaemon) -> None:
    # gammu's trigger stamps an updated row with the database's clock: start from it
    newest = gammu_daemon.rows("SELECT LOCALTIMESTAMP(0) AS now")[0].now
    _sentitem(gammu_daemon, 1, newest - timedelta(hours=30))  # before the window
    for n in range(2, 9):
        _sentitem(gammu_daemon, n, newest - timedelta(minutes=10 - n))
    _sentitem(gammu_daemon, 9, newest, creator="Gammu 1.42.0")  # another program's SMS
    adapter = GammuGateway(GammuSettings(gammu_daemon.database_url, report_window_hours=24))
    pages = [adapter.delivery_reports(limit=3) for _ in range(4)]
    assert [[r.provider_message_id for r in page] for page in pages] == [
        ["2", "3", "4"], ["5", "6", "7"], ["8"], []]
    with gammu_daemon.engine.begin() as connection:  # a delivery report comes for one
        connection.execute(text('UPDATE sentitems SET "Status" = \'DeliveryOK\' '
                                'WHERE "ID" = 5'))
    assert [(r.provider_message_id, r.status) for r in adapter.delivery_reports()] == [
        ("5", "delivered")]
    assert adapter.delivery_reports() == []
    adapter.close()


def test_a_row_stamped_behind_the_cursor_is_still_reported(gammu_daemon: GammuDaemon) -> None:
    now = datetime(2026, 11, 30, 9, 0, 0)
    _sentitem(gammu_daemon, 20, now)
    adapter = GammuGateway(GammuSettings(gammu_daemon.database_url))
    assert [r.provider_message_id for r in adapter.delivery_reports()] == ["20"]
    # gammu stamps UpdatedInDB when its statement starts; it may commit after we read past it
    _sentitem(gammu_daemon, 19, now - timedelta(seconds=1))
    assert [r.provider_message_id for r in adapter.delivery_reports()] == ["19"]
    assert adapter.delivery_reports() == []
    adapter.close()


# --- privacy ------------------------------------------------------------------------------------
def test_no_full_number_or_text_in_the_log(gammu_daemon: GammuDaemon, gateway: GammuGateway,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway")
    result = gateway.send(OutboundSms(uid(), PHONE, REG))
    gammu_daemon.wait_for_sent(str(result.provider_message_id))
    gammu_daemon.deliver_inbound(CITIZEN, REG)
    gammu_daemon.wait_for_inbox(1)
    with gateway.claim_inbound() as batch:
        assert len(batch) == 1
    gateway.delivery_reports()
    assert caplog.records
    for secret in (PHONE, CITIZEN, PHONE[3:], CITIZEN[3:], "3271010101010001"):
        assert secret not in caplog.text

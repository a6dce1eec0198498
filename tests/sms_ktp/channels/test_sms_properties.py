"""Whole dialogues through the real inbound path (`receive_sms` on SQLite, with the configured
limits), whatever residents send and in whatever order: registrations for the KTP-el and
applications for the other documents (KK, akta, KIA) mixed. What must never happen:

- an application stored with a NIK or KK that fails its rules, or with the KK equal to the NIK;
- an application stored (and consent recorded) when the last SMS the phone was sent before its
  YA was not the summary of exactly that application (of its document);
- a reply of more than one SMS, outside GSM-7, or with a whole NIK or KK in it;
- a family of up to ten registering from its one phone in one hour left without a reference.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlmodel import SQLModel

from flows.catalogue import languages
from flows.catalogue import messages as catalogue
from flows.documents import flows as document_flows
from gateway.message import InboundSms
from gsm7.encoding import is_gsm7, septets
from sms_ktp.applications.pickup import PickupPolicy
from sms_ktp.channels.sms import receive_sms
from sms_ktp.domain.identity import parse_kk, parse_nik
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.pickup_calendar import WorkingCalendar, default_offices
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.messaging.limits import ReplyLimits
from sms_ktp.models import Application, Family, OutboxMessage
from sms_ktp.platform.clock import FixedClock
from sms_ktp.platform.db import Database

START = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday, 09.00 in Bogor
POLICY = PickupPolicy(default_offices(), WorkingCalendar(), QuietHours.parse(""))
TTL = timedelta(minutes=30)
LIMITS = ReplyLimits()  # the defaults: 20 an hour, 3 identical in a row


class Template:
    """A catalogue message in any language, its placeholders read as `patterns`."""

    def __init__(self, key: str, **patterns: str) -> None:
        self.shapes = []
        for language in languages():
            shape = re.escape(catalogue(language)[key])
            for name, pattern in patterns.items():
                shape = shape.replace(re.escape("{" + name + "}"), pattern)
            self.shapes.append(re.compile(shape))

    def read(self, text: str) -> dict[str, str] | None:
        """The placeholders of `text` when it is this message, else None."""
        for shape in self.shapes:
            found = shape.fullmatch(text)
            if found:
                return found.groupdict()
        return None


SUMMARY = Template("register.confirm", nik=r"(?P<nik>\*\*\*\d{4})",
                    kk=r"(?P<kk>\*\*\*\d{4})", reason=".+")
DONE = Template("register.done", ref=r"(?P<ref>\d{9})", bring=".+")


def document_template(key: str) -> Template:
    """A document's message with its NIK, KK and reference read, any other placeholder
    matched as text."""
    named = {"nik": r"(?P<nik>\*\*\*\d{4})", "kk": r"(?P<kk>\*\*\*\d{4})",
             "ref": r"(?P<ref>\d{9})"}
    others = {name: ".+" for name in re.findall(r"\{(\w+)\}", catalogue("id")[key])
              if name not in named}
    return Template(key, **{name: pattern for name, pattern in named.items()
                            if "{" + name + "}" in catalogue("id")[key]}, **others)


SUMMARIES = {"ktp": SUMMARY, **{code: document_template(f"{code}.confirm")
                               for code in document_flows()}}
DONES = {"ktp": DONE, **{code: document_template(f"{code}.done") for code in document_flows()}}
SIXTEEN_DIGITS = re.compile(r"\d{16}")
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

PHONE = "+6281234567890"
_ids = itertools.count()


def nik(serial: int, day: int = 15) -> str:
    """A valid Kota Bogor NIK of a man born on `day` January 1990 (serial 1..9999)."""
    return f"32710{(serial % 6) + 1}{day:02d}0190{serial:04d}"


def kk(serial: int) -> str:
    """A valid Kota Bogor KK issued 1 March 2015."""
    return f"32710{(serial % 6) + 1}010315{serial:04d}"


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('inbound') / 'sms-ktp.db'}")
    database.create_schema()
    yield database
    database.dispose()


def emptied(database: Database) -> Database:
    """The module's database with no rows: each example starts from nothing."""
    with database.engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())
    return database


class Phone:
    """A feature phone: what it sends, and every SMS it was sent, in order."""

    def __init__(self, database: Database, clock: FixedClock) -> None:
        self.number = PHONE
        self.database = emptied(database)
        self.clock = clock
        self.inbox: list[str] = []

    def send(self, text: str) -> list[str]:
        before = self._outbox_count()
        receive_sms(self.database, self.clock, InboundSms(
            "test", f"p{next(_ids)}", self.number, "98765", text, None, None, None),
            TTL, POLICY, LIMITS)
        new = self._texts()[before:]
        self.inbox.extend(new)
        return new

    def _texts(self) -> list[str]:
        with self.database.connect() as connection:
            return list(connection.execute(
                select(OutboxMessage.text).where(OutboxMessage.phone == self.number,
                                                 OutboxMessage.kind != "notification")
                .order_by(OutboxMessage.id)).scalars())

    def _outbox_count(self) -> int:
        return len(self._texts())

    def applications(self) -> list[tuple[Application, str]]:
        """The family's applications with their family's KK, as stored."""
        with self.database.transaction() as session:
            return [(application, family_kk) for application, family_kk in session.exec(
                select(Application, Family.kk).join(Family, Family.id == Application.family_id)
                .where(Family.phone == self.number).order_by(Application.id)).all()]


def typed(value: str) -> st.SearchStrategy[str]:
    """A number the way people type it: plain, grouped by four, with dots or dashes."""
    groups = [value[i:i + 4] for i in range(0, len(value), 4)]
    return st.sampled_from([value, " ".join(groups), ".".join(groups), "-".join(groups)])


def messages(own: list[str], kks: list[str]) -> st.SearchStrategy[str]:
    """Anything a resident may send during registrations: keywords, numbers (valid, of the
    wrong length, with impossible dates, the NIK in the KK's place), labels, reasons, Suket
    numbers, answers, repeats and nonsense."""
    numbers = st.sampled_from(own + kks).flatmap(typed)
    invalid = st.sampled_from(["3271013102150001",  # KK issued 31 February
                               "3271010101150000",  # KK serial 0000
                               "327101010115001",  # 15 digits
                               "3271017201900001",  # NIK born on day 72
                               "9999011501900001"])  # no such province
    labelled = st.builds(lambda n, k, order: (f"NIK {n} KK {k}" if order else f"No. KK: {k}, "
                                              f"nik {n}"),
                         st.sampled_from(own), st.sampled_from(kks + own), st.booleans())
    daftar = st.builds(lambda n, k, r, sep: f"DAFTAR{sep}{n}{sep}{k}{sep}{r}",
                       st.sampled_from(own), st.sampled_from(kks + own),
                       st.sampled_from(["2", "3", "hilang", "1", ""]),
                       st.sampled_from(["#", " ", "*", "/"]))
    words = st.sampled_from([
        "DAFTAR", "daftar", "Daftr", "REG", "1", "2", "3", "4", "5", "YA", "ya", "Ya.", "iya",
        "TIDAK", "tidak", "BATAL", "STATUS", "JADWAL", "halo", "", "?", "ok", "muhun",
        "474.11/123/KEC-BGR", "BASA SUNDA", "LANG EN", "BAHASA ID", "TULUNG", "hilang", "rusak",
        "NIK", "KK", "nik saya", "\U0001f600", "Y", "N", "YAA", "daftar ktp", "INFO SYARAT",
        # the other documents: their keywords, dates, a child's sex, reasons
        "AKTA LAHIR", "akte lahir", "AKTA MATI", "KIA", "kartu keluarga", "LAYANAN",
        "17-08-2019", "1/11/2024", "12 maret 2015", "31-02-2020", "01-01-2099", "L", "P",
        "perempuan", "pisah kk", "anggota bertambah", "6"])
    documents = st.builds(lambda word, n, k, tail: f"{word} {n}#{k}#{tail}",
                          st.sampled_from(["KK", "AKTA LAHIR", "KIA", "AKTA MATI"]),
                          st.sampled_from(own), st.sampled_from(kks + own),
                          st.sampled_from(["3", "hilang", "17-08-2019", "17-08-2019#P", ""]))
    return st.one_of(words, words, words, numbers, numbers, invalid, labelled, daftar,
                     documents)


def check_invariants(phone: Phone, before: list[str], sent: str, replies: list[str],
                     stored_before: int) -> None:
    for reply in replies:
        assert is_gsm7(reply), reply
        assert (septets(reply) or 0) <= 160, (len(reply), reply)
        assert not SIXTEEN_DIGITS.search(reply), reply
    stored = phone.applications()
    for application, family_kk in stored[stored_before:]:
        # A new application: the SMS sent just before this YA was exactly its summary, and
        # this turn's reply gives its reference.
        assert before, f"stored with no summary sent ({sent!r})"
        summary = SUMMARIES[application.document].read(before[-1])
        assert summary is not None, f"the last SMS before {sent!r} was {before[-1]!r}"
        own = {"nik": mask_id(application.nik), "kk": mask_id(family_kk)}
        assert summary == {name: own[name] for name in summary}
        assert any((DONES[application.document].read(reply) or {}).get("ref")
                   == application.reference for reply in replies)
        assert application.consent_at is not None
    for application, family_kk in stored:
        assert application.nik != family_kk
        parse_nik(application.nik, phone.clock.now().date())
        parse_kk(family_kk, phone.clock.now().date())


@SETTINGS
@given(data=st.data(), people=st.integers(1, 3))
def test_whatever_a_phone_sends_nothing_wrong_is_stored_and_every_reply_is_one_sms(
        database: Database, data: st.DataObject, people: int) -> None:
    clock = FixedClock(START)
    phone = Phone(database, clock)
    base = 1
    own = [nik(base + i) for i in range(people)]
    kks = [kk(base)]
    texts = data.draw(st.lists(messages(own, kks), min_size=1, max_size=30), label="texts")
    for text in texts:
        before = list(phone.inbox)
        stored_before = len(phone.applications())
        replies = phone.send(text)
        check_invariants(phone, before, text, replies, stored_before)
        clock.advance(timedelta(seconds=data.draw(st.integers(0, 600), label="pause")))


def member_texts(serial: int, family_kk: str) -> st.SearchStrategy[list[list[str]]]:
    """One member's registration as a family types it: each answer possibly sent twice, and
    now and then a STATUS or a slip in between."""
    member = nik(serial)
    steps = [["DAFTAR"], [member], [family_kk], ["2"], ["YA"]]
    return st.lists(st.sampled_from(["twice", "status", "typo", "plain", "plain", "plain"]),
                    min_size=len(steps), max_size=len(steps)).map(
        lambda habits: [_with_habit(step, habit) for step, habit in zip(steps, habits,
                                                                        strict=True)])


def _with_habit(step: list[str], habit: str) -> list[str]:
    if habit == "twice":
        return step + step
    if habit == "status":
        return [*step, "STATUS"]
    if habit == "typo" and step != ["DAFTAR"]:
        return ["halo", *step]
    return step


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), members=st.integers(1, 10))
def test_a_family_of_up_to_ten_from_one_phone_in_one_hour_gets_every_reference(
        database: Database, data: st.DataObject, members: int) -> None:
    clock = FixedClock(START)
    phone = Phone(database, clock)
    base = 1
    family_kk = kk(base)
    references = []
    for member in range(members):
        for step in data.draw(member_texts(base + member, family_kk), label=f"member {member}"):
            for text in step:
                replies = phone.send(text)
                assert replies, f"{text!r} got no reply"
                references += [done["ref"] for done in map(DONE.read, replies) if done]
        clock.advance(timedelta(minutes=5))
    assert len(set(references)) == members
    assert [a.reference for a, _ in phone.applications()] == references

"""The corpus of residents' messages (tests/flows/corpus/*.toml): SMS as people type them (in Kota
Bogor unless an entry names another regency), each with the reading a Disdukcapil clerk would
make of it. Every entry is checked twice: by the parser (`read_command`, then the registration
fields `prefill_fields` reads or the answer the step's reader takes) and end to end through
`SmsChannel`, where a registration must store exactly the NIK, KK and reason expected, never
swapped and never the NIK as the KK.

A new habit is one more entry in a corpus file. An `[[sms]]` entry holds the `text` and either
- `action`: the keyword's action (`none` for a text that is no keyword), with as needed
  `language` (`any` for a keyword of every language), `args`, `guessed` (one slip away from a
  keyword), `ref` (the reference a STATUS or UBAH JADWAL reads), `sets` (the language chosen),
  `weekday` (0 is Monday) or `days_ahead` (UBAH JADWAL's day), `nik` (the NIK a status check
  in the `#` format of other services reads, `KTP#<NIK>`: the family's own NIK, the one of
  `DEFAULTS`, is answered as STATUS, any other as an unknown number), `region` (the regency served
  when the text arrives, Kota Bogor 3271 unless said: a language chosen where the regency does
  not offer it is refused with the list of those it does, and a question left open is answered
  with a KK of that regency); for `register`, exactly the answers the SMS carries: `nik`, `kk`,
  `reason` (the code `check_reason` gives), `suket`, and `error` (the reply's catalogue key)
  when a number is refused; or
- `answer = true`: an answer to the question `step` in the middle of a registration, `value`
  being the answer as stored (true/false at the summary), with the `nik`, `kk` or `reason` it
  also gives by its labels.
`twice = true` sends the text twice in a row (no delivery report on a feature phone), `id`
names the entry in the test ids (else its place in the file). A `[[dialogue]]` is a list of
`texts` sent one after the other and the application stored at the end (`stored = false`: none).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flows.catalogue import offered, render
from flows.dialogue import Conversation
from flows.fields import read_command
from flows.keywords import (
    LANGUAGE_NAMES,
    clean,
    language_named,
    nik_after_hash,
    parse_command,
    table_source,
)
from flows.registration import (
    check_reason,
    check_suket,
    kk_value,
    labelled_fields,
    nik_value,
    prefill_fields,
    read_confirmation,
)
from flows.reschedule import read_wish
from flows.sms import SmsChannel
from flows.status import typed_reference
from sms_ktp.domain import region
from sms_ktp.domain.identity import digits_only
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.reference import normalise_reference

CORPUS = Path(__file__).parent / "corpus"
PHONE = "+6281311112222"
NOW = datetime(2024, 11, 7, 2, 0, tzinfo=UTC)  # 09:00 in Bogor, as the services' clock
TTL = timedelta(minutes=30)
TODAY = NOW.date()
STEPS = ("nik", "kk", "reason", "suket", "confirm")
ID_FIELDS = ("nik", "kk")
# What the resident answers to a question the SMS left open. The NIK is a woman's from
# Kabupaten Bogor, so it can never pass for a Kota Bogor KK.
DEFAULTS = {"nik": "3201214811880006", "kk": "3271043107090003", "reason": "2",
            "suket": "474.11/99/KEC-BGR"}
KEYS = frozenset({
    "id", "text", "action", "language", "args", "guessed", "nik", "kk", "reason", "suket",
    "error", "twice", "answer", "step", "value", "ref", "sets", "weekday", "days_ahead",
    "region",
})
# The actions of keywords.toml, and `none` for a text that is no keyword.
ACTIONS = frozenset(table_source()) - {LANGUAGE_NAMES} | {"none"}


# --- the corpus ---------------------------------------------------------------------------------
def _entries(kind: str) -> list[Any]:
    params = []
    for path in sorted(CORPUS.glob("*.toml")):
        data = tomllib.loads(path.read_text("utf-8"))
        for index, entry in enumerate(data.get(kind, []), start=1):
            name = f"{path.stem}:{entry.get('id', index)}"
            params.append(pytest.param(entry, id=name))
    return params


SMS = _entries("sms")
DIALOGUES = _entries("dialogue")


def _is_answer(entry: Mapping[str, Any]) -> bool:
    return bool(entry.get("answer"))


def _registration_fields(entry: Mapping[str, Any]) -> dict[str, str]:
    return {name: entry[name] for name in ("nik", "kk", "reason", "suket") if name in entry}


def _with(kind: str) -> list[Any]:
    """The entries of one kind: registrations, answers or the other keywords."""
    def wanted(entry: Mapping[str, Any]) -> bool:
        if kind == "answer":
            return _is_answer(entry)
        return not _is_answer(entry) and (entry.get("action") == "register") == (
            kind == "register")
    return [param for param in SMS if wanted(param.values[0])]


def test_the_corpus_is_large_and_well_formed() -> None:
    assert len(SMS) >= 300
    ids = [param.id for param in SMS + DIALOGUES]
    assert len(ids) == len(set(ids)), "two entries of one file share an id"
    for param in DIALOGUES:
        entry = param.values[0]
        assert set(entry) <= {"id", "texts", "nik", "kk", "reason", "suket", "stored"}, param.id
        assert entry["texts"] and all(isinstance(text, str) for text in entry["texts"])
    for param in SMS:
        entry = param.values[0]
        assert set(entry) <= KEYS, f"{param.id}: unknown keys {set(entry) - KEYS}"
        assert isinstance(entry.get("text"), str), param.id
        if _is_answer(entry):
            assert entry.get("step") in STEPS and "value" in entry, param.id
        else:
            assert entry.get("action") in ACTIONS, param.id
        for name in ID_FIELDS:
            assert name not in entry or entry[name].isdigit(), param.id
        assert "region" not in entry or not _is_answer(entry), param.id


def _defaults(entry: Mapping[str, Any]) -> dict[str, str]:
    """The answers to questions the SMS left open, with a KK of the regency the entry is sent
    in (its first kecamatan, issued 31 July 2009)."""
    served = region.region(entry.get("region", region.DEFAULT_CODE))
    return {**DEFAULTS, "kk": f"{served.code}{min(served.kecamatan)}3107090003"}


# --- a phone talking to the SMS channel ----------------------------------------------------------
@dataclass
class Phone:
    services: Any
    conversation: Conversation | None = None
    now: datetime = NOW
    asked: list[str] = field(default_factory=list)  # the step after each reply

    def __post_init__(self) -> None:
        self.channel = SmsChannel(self.services, ttl=TTL)

    def send(self, text: str) -> str:
        self.now += timedelta(seconds=40)
        turn = self.channel.handle(text, PHONE, self.conversation, self.now)
        self.conversation = turn.conversation
        self.asked.append(self.step or "")
        assert turn.replies, f"no reply to {text!r}"
        return turn.replies[0]

    @property
    def step(self) -> str | None:
        return self.conversation.step if self.conversation else None

    def answer_until(self, stop: str, defaults: Mapping[str, str] = DEFAULTS) -> None:
        """Answer every question before `stop` with the defaults."""
        for _ in STEPS:
            if self.step in (None, stop):
                return
            assert self.step in defaults, f"asked {self.step} before {stop}"
            self.send(defaults[self.step])

    def stored(self) -> list[Any]:
        return list(self.services.applications)


def _language(entry: Mapping[str, Any]) -> str:
    """The language the replies come in: the keyword's, else Indonesian."""
    language = entry.get("language", "id")
    return "id" if language == "any" else language


def _code(step: str, value: str) -> str:
    """An answer as the dialogue stores it."""
    if step in ID_FIELDS:
        return digits_only(value)
    if step == "reason":
        return check_reason(value)
    return check_suket(value)


# --- the parser ---------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", SMS)
def test_keyword_reading(entry: Mapping[str, Any]) -> None:
    command = read_command(entry["text"])
    if _is_answer(entry) or entry["action"] == "none":
        assert command is None or command.guessed, command
        return
    assert command is not None
    assert command.action == entry["action"]
    if "language" in entry:
        assert command.language == (None if entry["language"] == "any" else entry["language"])
    if "guessed" in entry:
        assert command.guessed is entry["guessed"]
    if "args" in entry:
        assert list(command.args) == entry["args"]
    if "ref" in entry and command.action == "status":
        assert digits_only(typed_reference(command.args) or "") == entry["ref"], command.args
    if command.action == "status":
        assert nik_after_hash(command) == entry.get("nik"), command
    if "sets" in entry:
        assert command.args and language_named(command.args[0]) == entry["sets"]
    if command.action == "reschedule":
        wish = read_wish(command.args)
        assert wish.unreadable == ()
        assert wish.reference == entry.get("ref")
        assert wish.weekday == entry.get("weekday")
        assert wish.days_ahead == entry.get("days_ahead")


@pytest.mark.parametrize("entry", _with("register"))
def test_registration_fields(entry: Mapping[str, Any]) -> None:
    command = parse_command(entry["text"])
    assert command is not None
    read = prefill_fields(command.rest)
    if "reason" in read:
        read["reason"] = check_reason(read["reason"])
    if "suket" in read:
        read["suket"] = read["suket"].upper()
    expected = _registration_fields(entry)
    if "suket" in expected:
        expected["suket"] = expected["suket"].upper()
    assert read == expected


@pytest.mark.parametrize("entry", _with("answer"))
def test_answer_reading(entry: Mapping[str, Any]) -> None:
    """What the question's reader takes from the text, or the fields its labels give."""
    step, text, value = entry["step"], entry["text"], entry["value"]
    labelled = labelled_fields(text)
    expected = _registration_fields(entry)
    if labelled or expected:
        if "reason" in labelled:
            labelled["reason"] = check_reason(labelled["reason"])
        assert labelled == ({**expected, step: value} if step != "confirm" else expected)
        return
    if step == "nik":
        assert nik_value(text, TODAY) == value
    elif step == "kk":
        assert kk_value(text, TODAY) == value
    elif step == "confirm":
        assert read_confirmation(text, None, None) is value  # type: ignore[arg-type]
    else:
        assert _code(step, text) == value


# --- end to end through the SMS channel -----------------------------------------------------------
def _expected_application(entry: Mapping[str, Any]) -> dict[str, str]:
    """The answers a registration must end with: the entry's valid ones, the defaults for the
    rest (a number the rules refuse is asked again and answered with the default)."""
    refused = entry.get("error", "").split(".")[1:2]
    defaults = _defaults(entry)
    answers = {name: str(entry.get(name, defaults[name])) for name in defaults}
    for name in refused:
        answers[name] = defaults[name]
    answers["reason"] = check_reason(answers["reason"])
    answers["nik"], answers["kk"] = digits_only(answers["nik"]), digits_only(answers["kk"])
    if answers["reason"] != "baru":
        del answers["suket"]
    else:
        answers["suket"] = answers["suket"].upper()
    return answers


def _asked(entry: Mapping[str, Any], answers: Mapping[str, str]) -> list[str]:
    """The questions a registration SMS leaves open, in the dialogue's order."""
    given = set(_registration_fields(entry))
    steps = [name for name in STEPS if name not in given and name in (*answers, "confirm")]
    if "error" in entry:
        steps.insert(0, entry["error"].split(".")[1])
    return sorted(set(steps), key=STEPS.index)


def _check_stored(phone: Phone, answers: Mapping[str, str]) -> None:
    (stored,) = phone.stored()
    assert stored.kk != stored.nik
    got = {"nik": stored.nik, "kk": stored.kk, "reason": stored.reason}
    if "suket" in answers:
        got["suket"] = stored.suket
    assert got == dict(answers)


@pytest.mark.parametrize("entry", _with("register"))
def test_registration_end_to_end(entry: Mapping[str, Any], services, serve) -> None:
    serve(entry.get("region", region.DEFAULT_CODE))
    phone = Phone(services)
    reply = phone.send(entry["text"])
    if entry.get("twice"):
        assert phone.send(entry["text"]) == reply
    answers = _expected_application(entry)
    if "error" in entry:
        field_name = entry["error"].split(".")[1]
        got = len(re.sub(r"\D", "", entry[field_name]))
        assert reply == render(_language(entry), entry["error"], got=got)
    phone.answer_until("confirm", _defaults(entry))
    assert phone.step == "confirm"
    asked = _asked(entry, answers)
    assert phone.asked[0] == asked[0]
    assert sorted(set(phone.asked), key=STEPS.index) == asked
    assert phone.stored() == []
    phone.send("YA")
    assert phone.conversation is None
    _check_stored(phone, answers)


@pytest.mark.parametrize("entry", _with("answer"))
def test_answer_end_to_end(entry: Mapping[str, Any], services) -> None:
    """The text answers the question `step` in the middle of a registration."""
    step, value = entry["step"], entry["value"]
    phone = Phone(services)
    phone.send("DAFTAR")
    if step == "suket":
        phone.answer_until("reason")
        phone.send("1")
    phone.answer_until(step)
    assert phone.step == step
    phone.send(entry["text"])
    if entry.get("twice"):
        phone.send(entry["text"])
    if step == "confirm":
        assert phone.conversation is None
        assert len(phone.stored()) == (1 if value else 0)
        return
    answers = {**DEFAULTS, **_registration_fields(entry), step: value}
    if step == "suket":
        answers["reason"] = "1"
    phone.answer_until("confirm")
    phone.send("YA")
    _check_stored(phone, _expected_application(answers))


@pytest.mark.parametrize("entry", _with("other"))
def test_keyword_end_to_end(entry: Mapping[str, Any], services, serve) -> None:
    action = entry["action"]
    serve(entry.get("region", region.DEFAULT_CODE))
    phone = Phone(services)
    if action == "none":
        assert phone.send(entry["text"]) == render("id", "help.unknown",
                                                   minutes=int(TTL.total_seconds() // 60))
        phone.send("DAFTAR")
        phone.answer_until("kk")
        before = dict(phone.conversation.answers)
        phone.send(entry["text"])
        assert phone.step == "kk" and phone.conversation.answers == before
    elif action == "cancel" and entry.get("guessed"):
        # A slip of BATAL is taken for an answer while a question waits; alone it cancels.
        assert phone.send(entry["text"]) == render(_language(entry), "cancel.nothing")
    elif action == "cancel":
        phone.send("DAFTAR")
        phone.answer_until("reason")
        phone.send(entry["text"])
        assert phone.conversation is None and phone.stored() == []
    elif action == "language":
        reply = phone.send(entry["text"])
        if entry["sets"] in offered():
            assert services.language_of(PHONE) == entry["sets"]
            assert reply == render(entry["sets"], "lang.set")
        else:  # the languages offered, in Indonesian; nothing changes
            assert services.language_of(PHONE) is None
            assert reply == render("id", "lang.unavailable",
                                   language=render(entry["sets"], "lang.name"))
    elif action == "status":
        reference = services.add_application(PHONE, DEFAULTS["nik"], _defaults(entry)["kk"])
        text = entry["text"]
        if "ref" in entry and normalise_reference(entry["ref"]):
            text = _with_reference(text, entry["ref"], reference)
        reply = phone.send(text)
        if "ref" in entry and not normalise_reference(entry["ref"]):
            assert reply == render(services.language_of(PHONE) or _language(entry),
                                   "status.bad_ref")
        elif entry.get("nik", DEFAULTS["nik"]) != DEFAULTS["nik"]:  # not the family's NIK
            assert reply == render(services.language_of(PHONE) or _language(entry),
                                   "status.nik_not_found", nik=mask_id(entry["nik"]))
        else:
            assert reply == phone.send("STATUS")
    else:  # one reply at least, and no registration started or stored
        phone.send(entry["text"])
        assert phone.conversation is None and phone.stored() == []


def _with_reference(text: str, typed: str, reference: str) -> str:
    """`text` with the reference `typed` (grouped however the resident grouped it) replaced,
    digit by digit, by the one the services drew."""
    text = clean(text)
    pattern = r"[\s.\-]?".join(typed)
    found = re.search(pattern, text)
    assert found, f"{typed} is not in {text!r}"
    digits = iter(reference)
    replaced = re.sub(r"\d", lambda _: next(digits), found.group())
    return text[:found.start()] + replaced + text[found.end():]


@pytest.mark.parametrize("entry", DIALOGUES)
def test_dialogue(entry: Mapping[str, Any], services) -> None:
    """A whole exchange, SMS after SMS: what is stored at the end."""
    phone = Phone(services)
    for text in entry["texts"]:
        phone.send(text)
    if not entry.get("stored", True):
        assert phone.stored() == []
        return
    _check_stored(phone, _expected_application(entry))

"""The SMS channel: one inbound text in, the replies out, and where the conversation stands.

Order of reading: a keyword always wins (it starts over or answers on its own); otherwise the
text answers the question the phone was asked; otherwise the resident gets the short help.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flows import papers, post, reschedule, status
from flows.catalogue import DEFAULT_LANGUAGE, Msg, offered, render
from flows.dialogue import CANCELLED, DONE, Conversation, Dialogue, Outcome
from flows.documents import done_replies
from flows.documents import flows as document_flows
from flows.documents import offered as offered_documents
from flows.fields import read_command
from flows.keywords import Command, language_named, nik_after_hash, parse_command
from flows.language import language_for
from flows.ports import ApplicationView, Services
from flows.registration import REGISTRATION, is_yes, prefill_fields
from flows.status import pickup_text
from gsm7.encoding import segments
from sms_ktp.domain import documents
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.reference import normalise_reference

DIALOGUES: dict[str, Dialogue] = {
    REGISTRATION.name: REGISTRATION, post.POST.name: post.POST,
    **{code: flow.dialogue for code, flow in document_flows().items()}}
# INFO SYARAT, INFO PROSES, INFO AMBIL: the answers to the questions the city hears most.
INFO_TOPICS = {"info_syarat": "info.syarat", "info_proses": "info.proses",
               "info_ambil": "info.ambil"}


@dataclass
class SmsTurn:
    """The outcome of one inbound SMS. `conversation` is what to keep (None: forget it)."""

    replies: list[str] = field(default_factory=list)
    conversation: Conversation | None = None


@dataclass
class SmsChannel:
    services: Services
    ttl: timedelta
    _last_read: tuple[str, Command | None] | None = field(default=None, init=False, repr=False)

    def answers_dialogue(self, text: str, conversation: Conversation | None,
                         now: datetime) -> bool:
        """Whether `text` will be read as the answer to the question of a dialogue in progress
        (as `handle` reads it): such a text never counts against the phone's hourly limit."""
        if conversation is None or conversation.expires_at <= now or conversation.finished:
            return False
        command = self._read(text)
        return command is None or command.guessed or command.action == "post"

    def stop_dialogue(self, phone: str, conversation: Conversation | None) -> str:
        """The SMS that ends a dialogue going round in circles (the same reply again and
        again, as when another service's auto-responder answers our SMS)."""
        return render(self.language(phone, conversation), "register.stopped")

    def handle(self, text: str, phone: str, conversation: Conversation | None,
               now: datetime) -> SmsTurn:
        command = self._read(text)
        expired = conversation is not None and conversation.expires_at <= now
        active = None if expired else conversation
        if command is not None and command.guessed and active is not None:
            command = None  # a slip of a keyword is more likely an answer to the question
        if command is not None and command.action == "post":
            # KIRIM in a registration answers its question ("Balas YA untuk kirim"); before
            # another keyword it is the messages' "Kirim UBAH JADWAL ...", which is that keyword.
            command = None if active is not None else parse_command(command.rest) or command
        language = self._language(phone, command, conversation)
        if command is not None and command.language not in (None, DEFAULT_LANGUAGE) \
                and command.language in offered() \
                and command.action != "language" and self.services.language_of(phone) is None:
            # TULUNG, HELP: a first keyword in a language other than the default keeps the
            # phone in that language, so that the DAFTAR or STATUS its reply suggests is
            # answered in it too (BAHASA ID switches back). A keyword of a language the regency
            # does not offer (TULUNG in Kota Makassar) is answered in Bahasa Indonesia.
            self.services.set_language(phone, command.language)

        if command is None:
            if active is not None:
                return self._answer(active, text, language, now)
            if is_yes(text):
                # The YA sent twice: the first one registered, the second finds no summary.
                reference = self.services.recent_registration(phone, now - self.ttl)
                if reference is not None:
                    return SmsTurn([render(language, "register.already_done", ref=reference)])
            key = "register.expired" if expired else "help.unknown"
            return SmsTurn([render(language, key, minutes=self._ttl_minutes)])

        if command.action == "register":
            if not documents.is_enabled("ktp"):
                return SmsTurn([render(language, "layanan.off", items=_items(language),
                                       document=Msg("layanan.ktp"))])
            started = REGISTRATION.start(phone, language, now + self.ttl,
                                         prefill_fields(command.rest))
            return self._reply_to(started, REGISTRATION.answer(started, None, self.services),
                                  language)
        if command.action in document_flows():
            return self._start_document(command, phone, language, now)
        if command.action == "layanan":
            return SmsTurn([layanan(language)], active)
        if command.action == "cancel":
            key = "register.cancelled" if active is not None else "cancel.nothing"
            return SmsTurn([render(language, key)])
        # Single-turn keywords leave a registration in progress where it was.
        if command.action == "language":
            return SmsTurn([self._set_language(phone, command)], active)
        if command.action == "status":
            return SmsTurn([self._status(phone, command, language)], active)
        if command.action in ("broadcast_off", "broadcast_on"):
            opted_out = command.action == "broadcast_off"
            self.services.set_broadcast_opt_out(phone, opted_out)
            return SmsTurn([render(language, "optout.stopped" if opted_out
                                   else "optout.started")], active)
        if command.action == "pickup":
            return SmsTurn(self._pickups(phone, language), active)
        if command.action == "reschedule":
            return SmsTurn([self._move_pickup(phone, command.args, language)], active)
        if command.action == "post":  # asks first: YA posts, TIDAK keeps the pickup
            reply, asking = post.start(self.services, phone, language, now + self.ttl)
            return SmsTurn([reply], asking or active)
        if command.action == "info_ambil":  # where cards are posted, it says how too
            return SmsTurn([post.info_ambil(self.services, language)], active)
        if command.action in INFO_TOPICS:
            return SmsTurn([render(language, INFO_TOPICS[command.action])], active)
        return SmsTurn([render(language, "help.main")], active)

    def _read(self, text: str) -> Command | None:
        """`parse_command`, once per text: the limits ask `answers_dialogue` before `handle`
        reads the same SMS."""
        if self._last_read is None or self._last_read[0] != text:
            self._last_read = (text, read_command(text))
        return self._last_read[1]

    @property
    def _ttl_minutes(self) -> int:
        return int(self.ttl.total_seconds() // 60)

    def language(self, phone: str, conversation: Conversation | None) -> str:
        return self._language(phone, None, conversation)

    def _language(self, phone: str, command: Command | None,
                  conversation: Conversation | None) -> str:
        return language_for(self.services, phone, conversation,
                            command.language if command else None)

    def _answer(self, conversation: Conversation, text: str, language: str,
                now: datetime) -> SmsTurn:
        conversation.language = language
        conversation.expires_at = now + self.ttl
        dialogue = DIALOGUES[conversation.flow]
        return self._reply_to(conversation, dialogue.answer(conversation, text, self.services),
                              language)

    def _start_document(self, command: Command, phone: str, language: str,
                        now: datetime) -> SmsTurn:
        """KK, AKTA LAHIR, AKTA MATI, KIA: its dialogue, with the answers the SMS carries
        (`KK NIK#KK#ALASAN`); a document the regency does not offer gets the list of those it
        does."""
        if not documents.is_enabled(command.action):
            return SmsTurn([render(language, "layanan.off", items=_items(language),
                                   document=Msg(f"{command.action}.name"))])
        flow = document_flows()[command.action]
        started = flow.dialogue.start(phone, language, now + self.ttl, flow.prefill(command.rest))
        return self._reply_to(started, flow.dialogue.answer(started, None, self.services),
                              language)

    def _reply_to(self, conversation: Conversation, outcome: Outcome, language: str) -> SmsTurn:
        dialogue = DIALOGUES[conversation.flow]
        if outcome.step == DONE:
            return SmsTurn(done_replies(language, dialogue.name, outcome.result))
        if outcome.step == CANCELLED:
            if outcome.error is not None:
                return SmsTurn([render(language, outcome.error.key, **outcome.error.params)])
            return SmsTurn([render(language, f"{dialogue.name}.not_sent")])
        if outcome.error is not None:
            reply = render(language, outcome.error.key, **outcome.error.params)
        else:
            step = dialogue.steps[outcome.step]
            reply = render(language, step.prompt, **step.prompt_params(conversation.answers))
        return SmsTurn([reply], conversation)

    def _set_language(self, phone: str, command: Command) -> str:
        """BAHASA ID, BASA SUNDA, LANG EN: the language named, when the regency offers it. A
        language it does not offer (BASA JAWA in Kota Bogor) is answered, in the phone's
        language, with the list of those it does, and nothing changes; no language named
        (LANG, LANG XX) gets the same list as a choice."""
        wanted = language_named(command.args[0]) if command.args else None
        if wanted is None:
            return render(self._language(phone, command, None), "lang.choose")
        if wanted not in offered():
            return render(language_for(self.services, phone), "lang.unavailable",
                          language=render(wanted, "lang.name"))
        self.services.set_language(phone, wanted)
        return render(wanted, "lang.set")

    def _pickups(self, phone: str, language: str) -> list[str]:
        """One SMS per card to collect: each is what the resident shows at the counter."""
        pickups = self.services.family_pickups(phone)
        if not pickups:
            return [render(language, "pickup.none")]
        texts = [papers.view_text(language, view, "papers.visit") if papers.is_papers(view)
                 else post.with_hint(self.services, language, view,
                                     pickup_text(language, view, "notify.pickup_scheduled"))
                 for view in pickups]
        self.services.pickups_told(phone, texts)
        return texts

    def _move_pickup(self, phone: str, args: tuple[str, ...], language: str) -> str:
        """UBAH JADWAL [ref] [day]: see `flows.reschedule`."""
        return reschedule.answer(self.services, phone, args, language)

    def _status(self, phone: str, command: Command, language: str) -> str:
        applications = self.services.family_applications(phone)
        nik = nik_after_hash(command)
        if nik is not None:
            return self._status_of_nik(phone, nik, applications, language)
        typed = status.typed_reference(command.args)
        if typed is not None:
            reference = normalise_reference(typed)
            if reference is None:
                return render(language, "status.bad_ref")
            wanted = [a for a in applications if a.reference == reference]
            if not wanted:
                return render(language, "status.not_found", ref=reference)
            return status.detail(language, wanted[0])
        if not applications:
            return render(language, "status.none")
        if len(applications) == 1:
            return status.detail(language, applications[0])
        return _listing(language, applications)

    def _status_of_nik(self, phone: str, nik: str, applications: list[ApplicationView],
                       language: str) -> str:
        """`KTP#<NIK>`, `INFO#<NIK>`, `CEK#<NIK>`: the status of the family's card of that NIK,
        as `STATUS <ref>` gives it. Any other NIK, of another family or of nobody, gets the
        reply of an unknown reference, its last four digits only: nobody learns by typing a NIK
        whether it has an application."""
        references = self.services.family_references_of_nik(phone, nik)
        wanted = [a for a in applications if a.reference in references]
        if not wanted:
            return render(language, "status.nik_not_found", nik=mask_id(nik))
        return status.detail(language, wanted[0])


def _offered() -> list[str]:
    """The documents LAYANAN lists, in its order: the KTP-el first."""
    return (["ktp"] if documents.is_enabled("ktp") else []) + offered_documents()


def _item(code: str) -> str:
    return "layanan.ktp" if code == "ktp" else f"{code}.menu"


def _items(language: str) -> str:
    """The documents offered with their keywords: "DAFTAR (KTP-el), KK, AKTA LAHIR, ..."."""
    return ", ".join(render(language, _item(code)) for code in _offered())


def layanan(language: str) -> str:
    """LAYANAN: every document the regency serves by SMS and its keyword, in one SMS."""
    return render(language, "layanan.list", items=_items(language))


# `layanan.ktp`: the keyword, then the card's name in brackets ("DAFTAR (KTP-el)").
_KTP_ITEM = re.compile(r"(?P<keyword>.+?) \((?P<name>[^()]+)\)")


def layanan_choices(language: str) -> list[tuple[str, str]]:
    """The documents `layanan` lists, as choices in its order: (the keyword that starts the
    document's dialogue, as the list words it; the document's short name). Empty when one of
    them would not start its dialogue: the list is then read as text."""
    choices = []
    for code in _offered():
        item = render(language, _item(code))
        if code == "ktp":
            found = _KTP_ITEM.fullmatch(item)
            if found is None:
                return []
            item, name = found["keyword"], found["name"]
        else:
            name = papers.document_name(language, code)
        command = parse_command(item)
        if command is None or command.guessed or command.args \
                or command.action != ("register" if code == "ktp" else code):
            return []
        choices.append((item, name))
    return choices


def _listing(language: str, applications: list[ApplicationView]) -> str:
    """As many of the family's applications as one SMS holds, newest first; the rest counted,
    not listed (each has its own STATUS <ref>)."""
    items = [status.item(language, a) for a in applications]
    for shown in range(len(items), 0, -1):
        more = len(items) - shown
        text = render(language, "status.list", count=len(items), items="; ".join(items[:shown]),
                      more=render(language, "status.more", n=more) if more else "")
        if segments(text) == 1:
            break
    return text

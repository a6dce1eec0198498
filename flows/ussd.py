"""The USSD channel: numbered menus around the same dialogues, rules and catalogues as SMS.

A dialogue step is rendered as a screen: a one-line reason when the last answer was refused, the
question (`ussd.<prompt key>`), the step's choices numbered, and the navigation line (`0` back,
`00` main menu). Everything a resident can reach fits 182 characters; long texts are paged.
Where a session stands in the menus (`Menu`) is kept with the session; where the phone stands in
a dialogue is the same `Conversation` the SMS channel uses, so a registration begun by SMS can be
finished by USSD and the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flows import status
from flows.catalogue import messages, offered, render
from flows.dialogue import CANCELLED, DONE, Conversation, Dialogue, Invalid
from flows.documents import done_replies
from flows.documents import flows as document_flows
from flows.documents import offered as offered_documents
from flows.keywords import clean
from flows.language import language_for
from flows.ports import ApplicationView, Services
from flows.registration import REGISTRATION

SCREEN_LIMIT = 182
BACK, HOME = "0", "00"
NEXT_PAGE = "1"  # a long text: the next part
NEXT_ITEMS = "9"  # a long list: the next items
LIST_SIZE = 8  # at most, on one screen; fewer when the lines are long
INFO_TOPICS = ("about", "syarat", "proses", "ambil")
DIALOGUES: dict[str, Dialogue] = {
    REGISTRATION.name: REGISTRATION,
    **{code: flow.dialogue for code, flow in document_flows().items()}}
DOCUMENTS_CHOICE = "5"  # the main menu's other documents (KK, akta, KIA)


@dataclass
class Menu:
    """Where a session stands outside a dialogue; stored with the session."""

    name: str = "main"
    page: int = 0
    ref: str | None = None
    topic: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "page": self.page, "ref": self.ref, "topic": self.topic}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Menu:
        return cls(**(data or {}))


@dataclass
class UssdTurn:
    screen: str  # the whole answer: "CON ..." or "END ..."
    menu: Menu
    conversation: Conversation | None
    sms: list[str] = field(default_factory=list)  # what the phone should also get by SMS

    @property
    def ended(self) -> bool:
        return self.screen.startswith("END ")


def paginate(text: str, room: int) -> list[str]:
    """Split `text` at spaces into parts of at most `room` characters."""
    pages: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= room:
            current = candidate
            continue
        if current:
            pages.append(current)
        while len(word) > room:
            pages.append(word[:room])
            word = word[room:]
        current = word
    return [*pages, current] if current or not pages else pages


class UssdChannel:
    def __init__(self, services: Services, ttl: timedelta) -> None:
        self.services = services
        self.ttl = ttl

    # --- entry points ------------------------------------------------------------------------
    def begin(self, phone: str, conversation: Conversation | None, now: datetime) -> UssdTurn:
        """The first screen of a new session: pick up a dialogue still in progress, if any."""
        language = language_for(self.services, phone, conversation)
        if _in_progress(conversation, now):
            return self._resume(language, conversation)
        return self._main(language, conversation)

    def handle(self, menu: Menu, text: str, phone: str, conversation: Conversation | None,
               now: datetime) -> UssdTurn:
        """One input on the screen `menu` describes."""
        language = language_for(self.services, phone, conversation)
        choice = clean(text)
        if choice == HOME:
            return self._main(language, conversation)
        if menu.name == "dialogue" and _active(conversation, now):
            return self._answer(language, conversation, choice, now)
        handler = getattr(self, f"_on_{menu.name}", None)
        if handler is None or menu.name == "dialogue":  # the dialogue expired meanwhile
            return self._main(language, None if menu.name == "dialogue" else conversation)
        return handler(language, menu, choice, phone, conversation, now)

    # --- menus -------------------------------------------------------------------------------
    def _on_main(self, language: str, menu: Menu, choice: str, phone: str,
                 conversation: Conversation | None, now: datetime) -> UssdTurn:
        if choice == "1":
            if _in_progress(conversation, now):
                return self._resume(language, conversation)
            return self._start(language, phone, now)
        if choice == "2":
            return self._status(language, phone, conversation, Menu("status_list"))
        if choice == "3":
            return self._info_menu(language, conversation)
        if choice == "4":
            return self._language_menu(language, conversation)
        if choice == DOCUMENTS_CHOICE and offered_documents():
            return self._documents_menu(language, conversation)
        return self._main(language, conversation, error=_invalid(choice))

    def _on_documents(self, language: str, menu: Menu, choice: str, phone: str,
                      conversation: Conversation | None, now: datetime) -> UssdTurn:
        if choice == BACK:
            return self._main(language, conversation)
        offered_now = offered_documents()
        if choice.isdigit() and 1 <= int(choice) <= len(offered_now):
            flow = document_flows()[offered_now[int(choice) - 1]]
            return self._step(language, flow.dialogue.start(phone, language, now + self.ttl))
        return self._documents_menu(language, conversation, error=_invalid(choice))

    def _on_resume(self, language: str, menu: Menu, choice: str, phone: str,
                   conversation: Conversation | None, now: datetime) -> UssdTurn:
        if not _in_progress(conversation, now):  # it expired while the screen was shown
            return self._main(language, None)
        if choice == "1":
            conversation.expires_at = now + self.ttl
            return self._step(language, conversation)
        if choice == "2":
            return self._start(language, phone, now)
        if choice == BACK:
            return self._main(language, conversation)
        return self._resume(language, conversation, error=_invalid(choice))

    def _on_status_list(self, language: str, menu: Menu, choice: str, phone: str,
                        conversation: Conversation | None, now: datetime) -> UssdTurn:
        if choice == BACK:
            return self._main(language, conversation)
        pages = _list_pages(language, self.services.family_applications(phone))
        page = min(menu.page, len(pages) - 1)
        shown = pages[page]
        if choice == NEXT_ITEMS and page + 1 < len(pages):
            return self._status(language, phone, conversation,
                                Menu("status_list", page=menu.page + 1))
        if choice.isdigit() and 1 <= int(choice) <= len(shown):
            chosen = shown[int(choice) - 1]
            return self._status(language, phone, conversation,
                                Menu("status_detail", ref=chosen.reference,
                                     topic=str(menu.page)))
        return self._status(language, phone, conversation, menu, error=_invalid(choice))

    def _on_status_detail(self, language: str, menu: Menu, choice: str, phone: str,
                          conversation: Conversation | None, now: datetime) -> UssdTurn:
        if choice == BACK:
            several = len(self.services.family_applications(phone)) > 1
            if several:
                return self._status(language, phone, conversation,
                                    Menu("status_list", page=int(menu.topic or 0)))
            return self._main(language, conversation)
        if choice == NEXT_PAGE:
            return self._status(language, phone, conversation,
                                Menu("status_detail", menu.page + 1, menu.ref, menu.topic))
        return self._status(language, phone, conversation, menu, error=_invalid(choice))

    def _on_info(self, language: str, menu: Menu, choice: str, phone: str,
                 conversation: Conversation | None, now: datetime) -> UssdTurn:
        if choice == BACK:
            return self._main(language, conversation)
        if choice.isdigit() and 1 <= int(choice) <= len(INFO_TOPICS):
            return self._info_page(language, conversation, INFO_TOPICS[int(choice) - 1], 0)
        return self._info_menu(language, conversation, error=_invalid(choice))

    def _on_info_page(self, language: str, menu: Menu, choice: str, phone: str,
                      conversation: Conversation | None, now: datetime) -> UssdTurn:
        if choice == BACK:
            return self._info_menu(language, conversation)
        if choice == NEXT_PAGE:
            return self._info_page(language, conversation, menu.topic or "", menu.page + 1)
        return self._info_page(language, conversation, menu.topic or "", menu.page,
                               error=_invalid(choice))

    def _on_language(self, language: str, menu: Menu, choice: str, phone: str,
                     conversation: Conversation | None, now: datetime) -> UssdTurn:
        if choice == BACK:
            return self._main(language, conversation)
        options = offered()
        if choice.isdigit() and 1 <= int(choice) <= len(options):
            chosen = options[int(choice) - 1]
            self.services.set_language(phone, chosen)
            if conversation is not None:
                conversation.language = chosen
            return self._main(chosen, conversation, note=render(chosen, "ussd.language_set"))
        return self._language_menu(language, conversation, error=_invalid(choice))

    # --- the dialogue ------------------------------------------------------------------------
    def _start(self, language: str, phone: str, now: datetime) -> UssdTurn:
        return self._step(language, REGISTRATION.start(phone, language, now + self.ttl))

    def _answer(self, language: str, conversation: Conversation, choice: str,
                now: datetime) -> UssdTurn:
        dialogue = DIALOGUES[conversation.flow]
        conversation.expires_at = now + self.ttl
        if choice == BACK:
            if not dialogue.back(conversation):
                return self._main(language, None)  # left before answering anything
            return self._step(language, conversation)
        step = dialogue.steps[conversation.step]
        value = choice
        if step.choices and choice.isdigit() and 1 <= int(choice) <= len(step.choices):
            value = step.choices[int(choice) - 1].value
        # A USSD input arrives once (a retried request is recognised before this): an answer
        # that repeats an earlier one is a mistake to explain, not an SMS sent twice.
        outcome = dialogue.answer(conversation, value, self.services, repeats=False)
        if outcome.step == DONE:
            sms = done_replies(language, dialogue.name, outcome.result)
            if len(sms) > 1:  # another document: its reference, then its papers
                end = render(language, "ussd.document_done", ref=outcome.result["ref"])
            else:
                end = render(language, f"ussd.{dialogue.name}.done", **outcome.result)
            return UssdTurn(_screen(end, end=True), Menu(), None, sms)
        if outcome.step == CANCELLED:
            key = outcome.error.key if outcome.error else f"{dialogue.name}.not_sent"
            params = outcome.error.params if outcome.error else {}
            return UssdTurn(_screen(screen_text(language, key, **params), end=True),
                            Menu(), None)
        return self._step(language, conversation, error=outcome.error)

    def _step(self, language: str, conversation: Conversation,
              error: Invalid | None = None) -> UssdTurn:
        step = DIALOGUES[conversation.flow].steps[conversation.step]
        lines = [screen_text(language, step.prompt, **step.prompt_params(conversation.answers))]
        lines += [f"{number} {render(language, choice.label)}"
                  for number, choice in enumerate(step.choices, 1)]
        reason = screen_text(language, error.key, **error.params) if error else None
        return UssdTurn(_screen(*_with(reason, lines), render(language, "ussd.nav")),
                        Menu("dialogue"), conversation)

    # --- screens -----------------------------------------------------------------------------
    def _main(self, language: str, conversation: Conversation | None,
              error: str | None = None, note: str | None = None) -> UssdTurn:
        lines = [render(language, "ussd.main")]
        if offered_documents():
            lines.append(render(language, "ussd.documents_choice"))
        return UssdTurn(_screen(*_with(_reason(language, error) or note, lines)), Menu(),
                        conversation)

    def _documents_menu(self, language: str, conversation: Conversation | None,
                        error: str | None = None) -> UssdTurn:
        """The other documents the regency offers, each starting its dialogue."""
        lines = [render(language, "ussd.documents")]
        lines += [f"{n} {screen_text(language, f'{code}.title')}"
                  for n, code in enumerate(offered_documents(), 1)]
        return UssdTurn(_screen(*_with(_reason(language, error), lines),
                                render(language, "ussd.nav")), Menu("documents"), conversation)

    def _resume(self, language: str, conversation: Conversation,
                error: str | None = None) -> UssdTurn:
        lines = [render(language, "ussd.resume")]
        return UssdTurn(_screen(*_with(_reason(language, error), lines)), Menu("resume"),
                        conversation)

    def _info_menu(self, language: str, conversation: Conversation | None,
                   error: str | None = None) -> UssdTurn:
        lines = [render(language, "ussd.info")]
        return UssdTurn(_screen(*_with(_reason(language, error), lines),
                                render(language, "ussd.nav")), Menu("info"), conversation)

    def _info_page(self, language: str, conversation: Conversation | None, topic: str,
                   page: int, error: str | None = None) -> UssdTurn:
        if topic not in INFO_TOPICS:
            return self._info_menu(language, conversation)
        text = render(language, f"info.{topic}")
        return self._paged(language, text, page, Menu("info_page", topic=topic),
                           conversation, error)

    def _language_menu(self, language: str, conversation: Conversation | None,
                       error: str | None = None) -> UssdTurn:
        lines = [render(language, "ussd.language")]
        lines += [f"{n} {render(code, 'lang.name')}" for n, code in enumerate(offered(), 1)]
        return UssdTurn(_screen(*_with(_reason(language, error), lines),
                                render(language, "ussd.nav")), Menu("language"), conversation)

    def _status(self, language: str, phone: str, conversation: Conversation | None,
                menu: Menu, error: str | None = None) -> UssdTurn:
        applications = self.services.family_applications(phone)
        nav = render(language, "ussd.nav")
        if not applications:
            return UssdTurn(_screen(render(language, "ussd.status.none"), nav),
                            Menu("status_detail"), conversation)
        if menu.name == "status_detail" or len(applications) == 1:
            wanted = [a for a in applications if a.reference == menu.ref] or applications[:1]
            detail_menu = Menu("status_detail", menu.page if menu.ref else 0,
                               wanted[0].reference, menu.topic)
            return self._paged(language, status.detail(language, wanted[0]), detail_menu.page,
                               detail_menu, conversation, error)
        pages = _list_pages(language, applications)
        if menu.page >= len(pages):
            menu = Menu("status_list")
        lines = [render(language, "ussd.status.choose")]
        lines += [f"{n} {status.item(language, a)}" for n, a in enumerate(pages[menu.page], 1)]
        if menu.page + 1 < len(pages):
            lines.append(render(language, "ussd.more_items"))
        return UssdTurn(_screen(*_with(_reason(language, error), lines), nav), menu,
                        conversation)

    def _paged(self, language: str, text: str, page: int, menu: Menu,
               conversation: Conversation | None, error: str | None) -> UssdTurn:
        """A text longer than a screen, one part at a time (`1 Lanjut`)."""
        nav = render(language, "ussd.nav")
        more = render(language, "ussd.more")
        reason = _reason(language, error)
        room = SCREEN_LIMIT - len("CON ") - len(nav) - len(more) - 2
        if reason:
            room -= len(reason) + 1
        parts = paginate(text, room)
        page = min(page, len(parts) - 1)
        lines = [parts[page]] + ([more] if page + 1 < len(parts) else [])
        menu.page = page
        return UssdTurn(_screen(*_with(reason, lines), nav), menu, conversation)


def _list_pages(language: str,
                applications: list[ApplicationView]) -> list[list[ApplicationView]]:
    """The family's applications cut into screens: as many numbered lines as fit, leaving room
    for the header, `9 Lainnya`, the navigation line and a one-line reason."""
    fixed = sum(len(render(language, key)) + 1 for key in (
        "ussd.status.choose", "ussd.more_items", "ussd.nav", "ussd.error.choice"))
    fixed += len("CON ")
    pages: list[list[ApplicationView]] = [[]]
    used = fixed
    for application in applications:
        line = len(f"{LIST_SIZE} {status.item(language, application)}") + 1
        if pages[-1] and (used + line > SCREEN_LIMIT or len(pages[-1]) == LIST_SIZE):
            pages.append([])
            used = fixed
        pages[-1].append(application)
        used += line
    return pages


def screen_text(language: str, key: str, **params: Any) -> str:
    """The screen's wording of a catalogue message: its USSD form (`ussd.<key>`, or a
    document's own `<code>.ussd.<rest>`, or the form every document shares, `ussd.<rest>`)
    where the catalogue has one, else the SMS text itself (a document's `<code>.title` falls
    back to its name)."""
    code, _, rest = key.partition(".")
    candidates = [f"{code}.ussd.{rest}"] if code in document_flows() else []
    candidates.append(f"ussd.{key}")
    if code in document_flows():
        candidates.append(f"ussd.{rest}")  # the same question of every document (ask.nik)
    known = messages("id")
    for candidate in candidates:
        if candidate in known:
            return render(language, candidate, **params)
    if key not in known and rest == "title":
        key = f"{code}.name"
    return render(language, key, **params)


def _active(conversation: Conversation | None, now: datetime) -> bool:
    return (conversation is not None and not conversation.finished
            and conversation.expires_at > now and conversation.flow in DIALOGUES)


def _in_progress(conversation: Conversation | None, now: datetime) -> bool:
    """A dialogue worth offering to continue: active, and something already answered."""
    return _active(conversation, now) and bool(conversation.answers or conversation.prefill)


def _invalid(choice: str) -> str:
    return "ussd.error.empty" if not choice else "ussd.error.choice"


def _reason(language: str, key: str | None) -> str | None:
    return render(language, key) if key else None


def _with(reason: str | None, lines: list[str]) -> list[str]:
    return [reason, *lines] if reason else lines


def _screen(*lines: str, end: bool = False) -> str:
    text = ("END " if end else "CON ") + "\n".join(lines)
    return text if len(text) <= SCREEN_LIMIT else text[:SCREEN_LIMIT - 3] + "..."

"""The dialogue engine: a dialogue is a list of steps, built once into a `transitions` machine.

A conversation (one phone in one dialogue) is a plain object that is attached to the machine for
the length of one answer and detached again, so the machine never accumulates models and no
database row ever becomes a state machine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from transitions import EventData, Machine

DONE = "done"
CANCELLED = "cancelled"
FINAL_STEPS = (DONE, CANCELLED)


class Invalid(Exception):
    """An answer that cannot be used; `key` names the catalogue message that says why."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params
        # For a refusal by the finisher: the step to ask again (None ends the dialogue).
        self.step: str | None = None
        # For a refusal by a reader: the answer ends the dialogue rather than being asked again
        # (e.g. the NIK is registered already, and here is its reference).
        self.ends = False


def ending(key: str, **params: Any) -> Invalid:
    """A refusal that ends the dialogue, with the message that says why."""
    refused = Invalid(key, **params)
    refused.ends = True
    return refused


class Reader(Protocol):
    def __call__(self, text: str, context: Any, conversation: Conversation) -> Any: ...


@dataclass(frozen=True)
class Choice:
    """One numbered option of a step (SMS shows the list in the prompt; USSD as menu lines)."""

    value: str
    label: str  # catalogue key


@dataclass(frozen=True)
class Route:
    """Where an accepted answer leads; the first route whose `when` holds wins."""

    to: str
    when: Callable[[Mapping[str, Any]], bool] | None = None


@dataclass(frozen=True)
class Step:
    name: str
    prompt: str  # catalogue key
    read: Reader
    routes: tuple[Route, ...]
    choices: tuple[Choice, ...] = ()
    # Placeholders of the prompt, drawn from the answers so far (e.g. the summary to confirm).
    describe: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None

    def prompt_params(self, answers: Mapping[str, Any]) -> Mapping[str, Any]:
        return self.describe(answers) if self.describe else {}


@dataclass(eq=False)
class Conversation:
    """One phone's place in one dialogue. `prefill` holds answers given up front (`DAFTAR
    NIK#KK#...`) that are checked when their step comes, so only what is missing is asked."""

    phone: str
    flow: str
    step: str
    language: str
    expires_at: datetime
    answers: dict[str, Any] = field(default_factory=dict)
    prefill: dict[str, str] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.step in FINAL_STEPS


@dataclass
class Outcome:
    """What one answer did: the step the conversation is now at, and the problem if refused."""

    step: str
    error: Invalid | None = None
    result: Mapping[str, Any] = field(default_factory=dict)


class Finisher(Protocol):
    def __call__(self, conversation: Conversation, context: Any) -> Mapping[str, Any]: ...


class FieldReader(Protocol):
    def __call__(self, text: str) -> Mapping[str, str]: ...


class Dialogue:
    """A named list of steps and what to do when the last one is answered."""

    def __init__(self, name: str, steps: list[Step], finish: Finisher,
                 fields: FieldReader | None = None) -> None:
        """`fields`: reads the answers a text gives by their labels, by step ({} when the text
        is one plain answer to the question asked)."""
        self.name = name
        self.steps = {step.name: step for step in steps}
        self.first = steps[0].name
        self._finish = finish
        self._fields = fields
        self._machine = Machine(
            model=None,
            states=[*self.steps, DONE, CANCELLED],
            initial=self.first,
            auto_transitions=False,
            send_event=True,
            model_attribute="step",
            prepare_event=self._read,
        )
        for step in steps:
            for route in step.routes:
                self._machine.add_transition(
                    "answer",
                    step.name,
                    route.to,
                    conditions=[self._accepted, self._route_condition(step.name, route)],
                    before=self._store,
                )

    def start(self, phone: str, language: str, expires_at: datetime,
              prefill: Mapping[str, str] | None = None) -> Conversation:
        return Conversation(phone, self.name, self.first, language, expires_at,
                            prefill=dict(prefill or {}))

    def answer(self, conversation: Conversation, text: str | None, context: Any,
               repeats: bool = True) -> Outcome:
        """Apply one answer (None: only consume prefilled answers), then every prefilled answer
        whose step comes up, stopping at the first refusal. An answer that repeats the one
        before (the same SMS sent twice) is recognised as such: the question is asked again
        and nothing else changes (`repeats`: False on a channel whose input cannot arrive twice,
        where the refusal itself says more)."""
        if text is not None and self._fields is not None and conversation.step in self.steps:
            fields = self._fields(text)
            if fields:
                self._take_fields(conversation, fields, context)
                text = None
        self._machine.add_model(conversation, initial=conversation.step)
        try:
            error: Invalid | None = None
            if text is not None:
                error = self._trigger(conversation, text, context)
                if error is not None and repeats \
                        and self._repeats(conversation, text, context):
                    error = None
            while error is None and conversation.step in conversation.prefill:
                error = self._trigger(conversation, conversation.prefill.pop(conversation.step),
                                      context)
        finally:
            self._machine.remove_model(conversation)
            _unbind(conversation)
        if error is not None and error.ends:
            conversation.step = CANCELLED
        result: Mapping[str, Any] = {}
        if error is None and conversation.step == DONE:
            try:
                result = self._finish(conversation, context)
            except Invalid as refused:
                error = refused
                if refused.step in self.steps:
                    self._rewind(conversation, refused.step)
                else:
                    conversation.step = CANCELLED
        return Outcome(conversation.step, error, result)

    def back(self, conversation: Conversation) -> bool:
        """Return to the question answered before the current one (its answer forgotten);
        False when the conversation is at its first question."""
        names = list(self.steps)
        earlier = [name for name in names[:names.index(conversation.step)]
                   if name in conversation.answers]
        if not earlier:
            return False
        conversation.step = earlier[-1]
        conversation.answers.pop(earlier[-1])
        return True

    def _repeats(self, conversation: Conversation, text: str, context: Any) -> bool:
        """Whether `text` is an answer already given to an earlier question (newest first)."""
        answered = [name for name in conversation.answers if name in self.steps]
        return any(self._same_answer(conversation, name, text, context)
                   for name in reversed(answered))

    def _take_fields(self, conversation: Conversation, fields: Mapping[str, str],
                     context: Any) -> None:
        """Answers given by their labels: those of the questions still to come are kept as
        prefilled answers; one that changes an answer already given goes back to its question
        (the answers after it are checked again); one that repeats it changes nothing."""
        names = list(self.steps)
        here = names.index(conversation.step)
        changed = [name for name, value in fields.items()
                   if name in self.steps and names.index(name) < here
                   and not self._same_answer(conversation, name, value, context)]
        if changed:
            here = min(names.index(name) for name in changed)
            self._rewind(conversation, names[here])
        for name, value in fields.items():
            if name in self.steps and names.index(name) >= here:
                conversation.prefill[name] = value

    def _same_answer(self, conversation: Conversation, step: str, value: str,
                     context: Any) -> bool:
        try:
            read = self.steps[step].read(value, context, conversation)
        except Invalid:
            return False
        return bool(read == conversation.answers.get(step))

    def _rewind(self, conversation: Conversation, step: str) -> None:
        """Ask `step` again; the answers after it are kept as prefilled answers (checked again
        when their step comes), except the last step's (the confirmation), which is asked."""
        names = list(self.steps)
        conversation.step = step
        conversation.answers.pop(step, None)
        for later in names[names.index(step) + 1:]:
            value = conversation.answers.pop(later, None)
            if value is not None and later != names[-1]:
                conversation.prefill[later] = str(value)

    def _trigger(self, conversation: Any, text: str, context: Any) -> Invalid | None:
        conversation.answer(text=text, context=context)
        pending = conversation.__dict__.pop("_pending", None)
        return pending if isinstance(pending, Invalid) else None

    # --- machine callbacks -------------------------------------------------------------------
    def _read(self, event: EventData) -> None:
        model = event.model
        step = self.steps[model.step]
        try:
            model._pending = _Accepted(
                step.read(event.kwargs["text"], event.kwargs["context"], model)
            )
        except Invalid as error:
            model._pending = error

    @staticmethod
    def _accepted(event: EventData) -> bool:
        return isinstance(event.model._pending, _Accepted)

    @staticmethod
    def _route_condition(step: str, route: Route) -> Callable[[EventData], bool]:
        def holds(event: EventData) -> bool:
            if route.when is None:
                return True
            return route.when({**event.model.answers, step: event.model._pending.value})

        return holds

    @staticmethod
    def _store(event: EventData) -> None:
        model = event.model
        model.answers[event.transition.source] = model._pending.value
        model._pending = None


_FIELDS = frozenset(Conversation.__dataclass_fields__)


def _unbind(conversation: Conversation) -> None:
    """Drop what the machine bound to the object (triggers, `is_step_*`), so the same object can
    be attached again cleanly."""
    for name in set(vars(conversation)) - _FIELDS:
        delattr(conversation, name)


@dataclass(frozen=True)
class _Accepted:
    value: Any

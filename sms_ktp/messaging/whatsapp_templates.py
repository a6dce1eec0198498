"""A notice as the WhatsApp template approved for it.

Outside the 24-hour window WhatsApp carries only templates Meta has approved: fixed words with
variables `{{1}}`, `{{2}}`... filled at each send. A notice's template is its catalogue text in
one language, each placeholder a variable; the regency's own names (`{regency}`,
`{regency_code}`, `{zone}`) are written in, since they never change for a deployment.

The values are read back from the queued text itself, matched against that wording: the outbox
keeps what the resident is told and which notice it is (`outbox.notice`), nothing more. A text
that does not read as the wording (written in another language for a family that chose Sunda
or Jawa, a hint added after it) has no values; it then goes by the general template, whose one
variable is the whole text, or by SMS. Whatever is sent reads exactly as the SMS would.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from string import Formatter

from flows.catalogue import messages, regional, written_in
from gsm7.encoding import to_gsm7
from sms_ktp.platform.config import GENERAL_TEMPLATES

# The general template of a kind of message (`[gateway.whatsapp.templates]` keys that are not
# a catalogue key): its one variable is the whole text. "notification": any notice without a
# template of its own; "broadcast": a message from the office to many families.
GENERAL = frozenset(GENERAL_TEMPLATES)
# The notices a resident is sent without having written, besides the `notify.` ones (a
# document's own are `<document>.notify.<stage>`): `outbox.notice` holds one of these keys.
_OTHER_NOTICES = ("pickup.moved", "papers.reminder", "papers.missing", "phone_change.old_phone")


@dataclass(frozen=True)
class NoticeTemplate:
    """The wording of one notice as a template: `body` with `{{1}}`... in place of
    `names`, in order, and the pattern that reads the values back from a text."""

    key: str
    language: str
    body: str
    names: tuple[str, ...]
    pattern: re.Pattern[str]

    def values(self, text: str) -> list[str] | None:
        """The variables' values that make `text`, None when it is not this wording or a
        value could not be a template parameter (empty, or a line break in it)."""
        found = self.pattern.fullmatch(text)
        if found is None:
            return None
        values = list(found.groups())
        if any(not value.strip() or "\n" in value or "\t" in value for value in values):
            return None
        return values


def is_notice(key: str) -> bool:
    """Whether `key` is a catalogue key of a notice (a template may be made for it)."""
    named = key in _OTHER_NOTICES or key.startswith("notify.") or ".notify." in key
    return named and key in messages("id")


def notice_keys() -> list[str]:
    """Every notice's catalogue key, in the catalogue's order."""
    return [key for key in messages("id") if is_notice(key)]


def notice_template(key: str, language: str) -> NoticeTemplate:
    """The template of notice `key` written in `language` (a catalogue code), with the names
    of the regency served now."""
    return _template(key, language, tuple(sorted(regional().items())))


@cache
def _template(key: str, language: str, regency: tuple[tuple[str, str], ...]) -> NoticeTemplate:
    source = messages(language).get(key) or messages("id")[key]
    fixed = dict(regency)
    body, pattern, names = [], [], []
    for literal, name, spec, conversion in Formatter().parse(source):
        if literal:
            body.append(literal)
            pattern.append(re.escape(to_gsm7(literal)))
        if name is None:
            continue
        if name in fixed and not spec and not conversion:
            body.append(fixed[name])
            pattern.append(re.escape(to_gsm7(fixed[name])))
            continue
        names.append(name)
        body.append(f"{{{{{len(names)}}}}}")
        pattern.append("(.+?)")
    return NoticeTemplate(key, language, "".join(body), tuple(names),
                          re.compile("".join(pattern), re.DOTALL))


def notice_parameters(key: str, template_language: str, text: str) -> list[str] | None:
    """The values of notice `key`'s template (in the Meta language `template_language`) that
    make the queued `text`; None when the text cannot go as that template."""
    language = written_in(template_language)
    if language is None or key not in messages("id"):
        return None
    return notice_template(key, language).values(text)


def example_values(template: NoticeTemplate) -> Mapping[str, str]:
    """A sample value of each variable, as Meta asks for with a template to approve: the
    placeholder's own name, marked, so that nobody mistakes it for a person's data."""
    return {f"{{{{{number}}}}}": f"<{name}>" for number, name in enumerate(template.names, 1)}


def general_template(kind: str, language: str) -> str:
    """The wording to submit for the general template of `kind` ("notification",
    "broadcast"): the catalogue's fixed words around `{{1}}`, the whole message."""
    source = messages(language).get(f"whatsapp.template_{kind}") \
        or messages("id")[f"whatsapp.template_{kind}"]
    return source.format_map({**regional(), "text": "{{1}}"})


def approval_warnings(template: NoticeTemplate) -> list[str]:
    """What Meta asks a sample for, or may refuse, in a wording: a variable at its start or
    end, two variables with only a space between them."""
    body = template.body
    warnings = []
    if body.startswith("{{"):
        warnings.append("starts with a variable")
    if body.rstrip(" .").endswith("}}"):
        warnings.append("ends with a variable")
    if re.search(r"\}\}\s*\{\{", body):
        warnings.append("two variables with only a space between them")
    return warnings

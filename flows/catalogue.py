"""Message catalogues: every word a resident reads comes from `messages/<lang>.toml`, never from
code, so translators can work without touching Python."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from gsm7.encoding import to_gsm7
from sms_ktp.domain import region

DEFAULT_LANGUAGE = "id"


@dataclass(frozen=True)
class Msg:
    """A placeholder value that is itself a catalogue message, rendered in the reader's language."""

    key: str
    params: Mapping[str, Any] | None = None


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, key + "."))
        else:
            flat[key] = str(value)
    return flat


# A catalogue is named by its ISO 639 code (`su.toml`); the folder's other tables (keywords.toml)
# are not languages.
_CATALOGUE = re.compile(r"^([a-z]{2,3})\.toml$")


@cache
def languages() -> tuple[str, ...]:
    """Language codes that have a catalogue, default first."""
    names = sorted(
        found.group(1)
        for entry in resources.files("flows.messages").iterdir()
        if (found := _CATALOGUE.match(entry.name))
    )
    return (DEFAULT_LANGUAGE, *[n for n in names if n != DEFAULT_LANGUAGE])


@cache
def messages(lang: str) -> dict[str, str]:
    """The language's catalogue, with every document's own (`flows/documents/<code>/<lang>.toml`,
    its keys prefixed with the document's code: `[ask] nik` of kk/id.toml is `kk.ask.nik`)."""
    text = resources.files("flows.messages").joinpath(f"{lang}.toml").read_text("utf-8")
    flat = _flatten(tomllib.loads(text))
    for folder in document_folders():
        own = folder.joinpath(f"{lang}.toml")
        if own.is_file():
            flat.update(_flatten(tomllib.loads(own.read_text("utf-8")), folder.name + "."))
    return flat


@cache
def document_folders() -> tuple[Any, ...]:
    """The folders of `flows/documents` that hold a document (its dialogue and its texts), in
    the order of their names."""
    return tuple(sorted((entry for entry in resources.files("flows.documents").iterdir()
                         if entry.is_dir() and entry.joinpath("__init__.py").is_file()),
                        key=lambda entry: entry.name))


def written_in(code: str) -> str | None:
    """The catalogue a language tag from elsewhere ("id", "en_US", "en-GB") is written in,
    None when there is none."""
    base = code.replace("-", "_").split("_")[0].lower()
    return base if base in languages() else None


def offered() -> tuple[str, ...]:
    """The languages residents of the regency served are offered (`region.current().languages`
    that have a catalogue), Bahasa Indonesia first."""
    have = languages()
    return (DEFAULT_LANGUAGE, *[code for code in region.current().languages
                                if code in have and code != DEFAULT_LANGUAGE])


def supported(lang: str | None) -> str:
    """The language to answer a resident in: `lang` when the regency served offers it, else
    Bahasa Indonesia (a choice stored before the regency's languages changed, a keyword of a
    language not offered here, no choice at all)."""
    return lang if lang in offered() else DEFAULT_LANGUAGE


def render(lang: str, key: str, **params: Any) -> str:
    """The message `key` in `lang` (falling back to the default language), placeholders filled,
    nested `Msg` values rendered in the same language, and the result kept GSM-7."""
    source = _source(lang, key)
    return to_gsm7(source.format_map(_values(lang, params, source)))


def template(lang: str, key: str, **fixed: Any) -> str:
    """The message `key` with the `fixed` placeholders filled and the others kept for
    `str.format`: thousands of SMS that differ only in a reference and a code are worded with
    one format call each. The values later given to `format` must be GSM-7 themselves."""
    source = _source(lang, key)
    values = _Keep({name: str(value).replace("{", "{{").replace("}", "}}")
                    for name, value in _values(lang, fixed, source).items()})
    return to_gsm7(source.format_map(values))


class _Keep(dict[str, str]):
    def __missing__(self, name: str) -> str:
        return "{" + name + "}"


def _source(lang: str, key: str) -> str:
    """Any catalogue's wording, offered here or not (a notification keeps the language of its
    application); a key missing in `lang` falls back to the default language."""
    own = messages(lang).get(key) if lang in languages() else None
    return own or messages(DEFAULT_LANGUAGE)[key]


def regional() -> dict[str, str]:
    """What every message may name of the regency served: `{regency}` ("Kota Bogor",
    "Kabupaten Sleman"), `{regency_code}` ("3271", how its KKs start) and `{zone}` (WIB, WITA
    or WIT)."""
    served = region.current()
    return {"regency": served.name, "regency_code": served.code, "zone": served.zone_label}


# The language lists a message may name: `{languages}` every language offered, `{other_languages}`
# those besides the reader's own. Each language says in its own words how to switch to it
# (`lang.switch`, "Sunda: BASA SUNDA"), so every catalogue stays translatable.
LANGUAGE_LISTS = ("languages", "other_languages")
LIST_SEPARATOR = ". "


def switches(codes: Iterable[str]) -> str:
    """How to switch to each of `codes`, each in its own language: "Sunda: BASA SUNDA. English:
    LANG EN"."""
    return LIST_SEPARATOR.join(render(code, "lang.switch") for code in codes)


def language_lists(lang: str) -> dict[str, str]:
    """`{languages}` and `{other_languages}` for a reader of `lang` in the regency served."""
    every = offered()
    return {"languages": switches(every),
            "other_languages": switches(code for code in every if code != lang)}


def _values(lang: str, params: Mapping[str, Any], source: str) -> dict[str, Any]:
    defaults = regional()
    if any("{" + name + "}" in source and name not in params for name in LANGUAGE_LISTS):
        defaults |= language_lists(lang if lang in languages() else DEFAULT_LANGUAGE)
    return defaults | {
        name: render(lang, value.key, **(value.params or {})) if isinstance(value, Msg) else value
        for name, value in params.items()
    }

"""The message catalogues: complete in every language, same placeholders, no regency or time zone
written into any of them, and every message one GSM-7 SMS (160 characters) even with its
placeholders at their longest: the longest regency and kecamatan names of the whole country, the
longest time zone, the longest list of languages a regency offers."""

import re
import string
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

import flows.catalogue as catalogue
from flows.catalogue import (
    DEFAULT_LANGUAGE,
    Msg,
    languages,
    messages,
    offered,
    render,
    supported,
    switches,
    template,
)
from flows.dates import say_day
from gsm7.encoding import GSM7_SINGLE, is_gsm7, septets
from sms_ktp.applications import sms_budget
from sms_ktp.applications.delivery import TRACKING_LIMIT
from sms_ktp.applications.document_files import LINK_CODE_LENGTH
from sms_ktp.domain import region, wilayah
from sms_ktp.domain.pickup_calendar import default_offices
from sms_ktp.platform.config import COURIER_LIMIT, FEE_LIMIT, PUBLIC_URL_LIMIT

LANGUAGES = languages()
# `status.list` holds a variable number of items: tests/flows/test_sms_channel.py checks it.
LISTING = "status.list"
KNOWN_BUGS: dict[tuple[str, str], str] = {}
LONGEST_REGENCY, LONGEST_KECAMATAN = wilayah.longest_names()
LONGEST_ZONE = max(region.ZONES, key=len)  # WITA
# The address of an office (configured; by default the regency's name) shares the pickup SMS
# with the office's name: beside the longest name of all, the catalogues leave it 10 characters
# (staff editing an office see the exact room, sms_ktp/applications/sms_budget.py).
ADDRESS = "Jl. Raya 1"


def regency_of_longest_names() -> dict[str, str]:
    """The code of the regency with the longest name, and the longest office name of all (an
    office per kecamatan, named as the defaults name them)."""
    code = next(code for code, (name, _) in wilayah.regencies().items()
                if name == LONGEST_REGENCY)
    holding = next(code for code in wilayah.regencies()
                   if LONGEST_KECAMATAN in wilayah.kecamatan_of(code).values())
    office = max((o.name for o in default_offices(region.region(holding)).values()), key=len)
    return {"regency_code": code, "office": office}


LONGEST = regency_of_longest_names()
# The languages each province offers by default (`[region] languages` may say otherwise).
OFFERED_SETS = sorted({region.default_languages(code) for code in wilayah.provinces()})


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def post_values(lang: str) -> dict[str, Any]:
    """Delivery by post ([delivery]): the courier's name and a tracking number at their
    limits, the fee at its largest (or "free", whichever words are longer)."""
    amount = f"{FEE_LIMIT:,}".replace(",", ".")
    fees = (Msg("post.cod", {"amount": amount}), Msg("post.free"))
    return {"courier": "W" * COURIER_LIMIT, "tracking": "W" * TRACKING_LIMIT, "amount": amount,
            "fee": max(fees, key=lambda fee: len(render(lang, fee.key, **(fee.params or {}))))}


def longest(lang: str, prefix: str) -> Msg:
    """The `prefix.*` message of `lang` with the longest rendering, as a nested message (with
    the values a stage's text may name: the courier and tracking number of a posted card)."""
    keys = [key for key in messages(lang) if key.startswith(prefix + ".")]
    assert keys, f"no {prefix}.* messages in {lang}"
    values = post_values(lang)
    return Msg(max(keys, key=lambda key: len(render(lang, key, **values))), values)


def longest_lists(lang: str) -> dict[str, str]:
    """`{languages}` and `{other_languages}` at their longest for a reader of `lang`, over the
    languages the provinces offer (in a regency that offers `lang`)."""
    sets = [offer for offer in OFFERED_SETS if lang in offer]
    return {"languages": max((switches(offer) for offer in sets), key=len),
            "other_languages": max((switches(c for c in offer if c != lang) for offer in sets),
                                   key=len)}


def papers_visit_words(lang: str) -> str:
    day = max((say_day(lang, date(2026, 1, 1) + timedelta(days=n)) for n in range(365)),
              key=len)
    time = render(lang, "when.time", hour="09", minute="30", zone=LONGEST_ZONE)
    return max((render(lang, "papers.slot", day=day, time=time, office=LONGEST["office"]),
                render(lang, "papers.at_office", office=LONGEST["office"])), key=len)


def layanan_items(lang: str) -> str:
    from sms_ktp.domain.documents import DOCUMENTS

    return ", ".join(render(lang, "layanan.ktp" if code == "ktp" else f"{code}.menu")
                     for code in DOCUMENTS if code == "ktp" or f"{code}.menu" in messages(lang))


def longest_params(lang: str) -> Mapping[str, Any]:
    masked = "***1234"
    return {
        # the regency served: the longest name of the country, its code, the longest zone
        "regency": LONGEST_REGENCY,
        "regency_code": LONGEST["regency_code"],
        "zone": LONGEST_ZONE,
        **longest_lists(lang),
        "language": max((render(code, "lang.name") for code in LANGUAGES), key=len),
        "ref": "123456789",
        "nik": masked,
        "kk": masked,
        # a family visit's cards: one by its NIK, or the count of many (listing them is
        # done only where the SMS still fits: tests/flows/test_visits.py)
        "cards": max((render(lang, "cards.one", nik=masked),
                      render(lang, "cards.counted", n=15)), key=len),
        "niks": f"{masked}, {masked} +3",
        # a child's KIA among a visit's cards, by birth date (tests/flows/test_visits.py)
        "born": "31-12-2026",
        # a death reported (akta_mati): the deceased's NIK, masked, and the date of death
        "deceased": masked,
        "died": "31-12-2026",
        "dates": "31-12-2026, 31-12-2026 +3",
        "ktp_cards": render(lang, "cards.listed", n=15, niks=f"{masked}, {masked} +13"),
        "kia_cards": render(lang, "cards.kia_listed", n=15, dates="31-12-2026 +14"),
        "reason": longest(lang, "reason"),
        "bring": longest(lang, "bring"),
        "got": 17,
        "minutes": 120,
        "count": 6,
        "n": 5,
        "stage": longest(lang, "stage_short"),
        "explain": longest(lang, "stage"),
        # pickups: the longest date of the year, the longest office name of the whole country
        "day": max((say_day(lang, date(2026, 1, 1) + timedelta(days=n)) for n in range(365)),
                   key=len),
        "time": render(lang, "when.time", hour="09", minute="30", zone=LONGEST_ZONE),
        "office": LONGEST["office"],
        "address": ADDRESS,
        "code": "ABCDEF",
        "why": "x" * 50,  # a rejection's reason, at its limit
        # a signed PDF's link (`[server] public_url` at its limit), PIN and last day (dd/mm)
        "link": "https://" + "w" * (PUBLIC_URL_LIMIT - 8) + "/d/" + "W" * LINK_CODE_LENGTH,
        "pin": "123456",
        "until": "31/12",
        # a document's short name ("Akta Kelahiran"): the longest of the reader's language
        "document": sms_budget.longest_values(lang)["document"],
        # a papers visit's applications: one by its name and reference, or the count of many
        # (naming them is done only where the SMS still fits: flows.papers.papers_text)
        "documents": max((render(lang, "papers.one", ref="123456789",
                                 document=sms_budget.longest_values(lang)["document"]),
                          render(lang, "papers.counted", n=15)), key=len),
        "what": "x" * 40,  # what a document's papers lack, typed by staff: at least this room
        # the papers visit in a document's reference SMS: its slot, or the office any day
        "visit": papers_visit_words(lang),
        # LAYANAN: every document a regency may offer, with its keyword
        "items": layanan_items(lang),
        "age": 16,  # an applicant too young for a split KK
        # an akta kelahiran's child: its sex in words, and whether the birth is reported late
        "sex": longest(lang, "akta_lahir.sex"),
        "timing": longest(lang, "akta_lahir.timing"),
        "phone": "+880***123",  # a family's new phone, masked (the longest country code)
        "weekday": longest(lang, "when.weekday"),
        "month": longest(lang, "when.month"),
        "year": 2026,
        "hour": "09",
        "minute": "30",
        **post_values(lang),
    }


def every_key() -> list[Any]:
    return [
        pytest.param(lang, key, id=f"{lang}:{key}")
        for lang in LANGUAGES
        for key in messages(lang)
    ]


# The fixed words of WhatsApp's general templates, around a whole message: never an SMS.
WHATSAPP_TEMPLATES = "whatsapp.template_"


def sized_keys() -> list[Any]:
    cases = []
    for lang in LANGUAGES:
        for key in messages(lang):
            if key == LISTING or key.startswith(WHATSAPP_TEMPLATES):
                continue
            reason = KNOWN_BUGS.get((lang, key))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(pytest.param(lang, key, id=f"{lang}:{key}", marks=marks))
    return cases


def test_indonesian_first_then_english_javanese_and_sundanese() -> None:
    assert LANGUAGES[0] == DEFAULT_LANGUAGE == "id"
    assert sorted(LANGUAGES[1:]) == ["en", "jv", "su"]


def test_catalogues_are_not_empty() -> None:
    for lang in LANGUAGES:
        assert len(messages(lang)) > 40, lang


@pytest.mark.parametrize(("lang", "key"), every_key())
def test_key_exists_in_every_language(lang: str, key: str) -> None:
    missing = [other for other in LANGUAGES if key not in messages(other)]
    assert not missing, f"{key!r} (from {lang}.toml) is missing in: {', '.join(missing)}"


@pytest.mark.parametrize(("lang", "key"), every_key())
def test_placeholders_are_the_same_in_every_language(lang: str, key: str) -> None:
    mine = placeholders(messages(lang)[key])
    for other in LANGUAGES:
        theirs = placeholders(messages(other).get(key, ""))
        assert theirs == mine, f"{key!r}: {lang} uses {sorted(mine)}, {other} {sorted(theirs)}"


@pytest.mark.parametrize(("lang", "key"), every_key())
def test_templates_are_gsm7_as_written(lang: str, key: str) -> None:
    """`render` would rescue a curly quote, but a translator's other characters become '?'."""
    assert is_gsm7(messages(lang)[key]), f"{lang}:{key} has a character outside GSM-7"


@pytest.mark.parametrize(("lang", "key"), sized_keys())
def test_message_fits_one_sms_at_its_longest(lang: str, key: str) -> None:
    text = render(lang, key, **longest_params(lang))
    length = septets(text)
    assert length is not None, f"{lang}:{key} is not GSM-7: {text!r}"
    assert length <= GSM7_SINGLE, f"{lang}:{key} is {length} characters: {text!r}"


def test_longest_values_are_what_they_claim() -> None:
    # Guards the size test above: the longest labels really are the longest ones.
    assert longest_params("id")["regency"] == "Kabupaten Administrasi Kepulauan Seribu"
    assert longest_params("id")["regency_code"] == "3101"
    assert longest_params("id")["office"] == "Kantor Kec. Buay Pematang Ribu Ranau Tengah"
    assert longest_params("en")["time"] == "09:30 WITA"
    assert longest_params("id")["other_languages"] == "English: LANG EN. Sunda: BASA SUNDA"
    assert longest_params("en")["other_languages"] == "Indonesia: BAHASA ID. Sunda: BASA SUNDA"
    assert longest_params("jv")["languages"] == (
        "Indonesia: BAHASA ID. English: LANG EN. Jawa: BASA JAWA")
    assert longest_params("su")["day"] == "Jumaah, 11 Séptémber 2026"
    assert render("id", longest("id", "bring").key) == "surat kehilangan dari polisi"
    assert render("en", longest("en", "reason").key) == "data changed"
    assert render("id", longest("id", "stage_short").key) == "tunggu blangko"


def test_placeholders_are_filled_and_nested_messages_use_the_readers_language() -> None:
    text = render("en", "register.confirm", nik="***0001", kk="***0003",
                  reason=Msg("reason.hilang"))
    assert text == (
        "Check: NIK ***0001, KK ***0003, reason lost. Your data is used only to print your "
        "KTP-el. Reply YES to send or NO to cancel."
    )
    text = render("id", "register.confirm", nik="***0001", kk="***0003",
                  reason=Msg("reason.hilang"))
    assert "alasan hilang." in text


def test_nested_message_gets_its_own_placeholders() -> None:
    text = render("id", "status.list", count=2, items="a; b",
                  more=Msg("status.more", {"n": 3}))
    assert text == "2 pendaftaran: a; b; +3 lagi. Rincian: STATUS <ref>"


@pytest.mark.parametrize("lang", ["xx", "", None])
def test_unknown_language_falls_back_to_indonesian(lang: Any) -> None:
    assert supported(lang) == "id"
    assert render(lang, "help.main") == render("id", "help.main")
    assert render(lang, "help.main").startswith("Layanan KTP-el Kota Bogor, gratis:")


def test_known_language_is_kept() -> None:
    assert supported("en") == "en"
    assert render("en", "help.main").startswith("KTP-el Kota Bogor, free:")


def test_a_language_the_regency_does_not_offer_is_answered_in_indonesian(serve) -> None:
    assert offered() == ("id", "en", "su")  # Kota Bogor, by default
    assert supported("jv") == "id"
    serve("7371")  # Kota Makassar
    assert offered() == ("id", "en")
    assert (supported("su"), supported("en")) == ("id", "en")
    serve("3471")  # Kota Yogyakarta
    assert offered() == ("id", "en", "jv") and supported("jv") == "jv"
    # A catalogue itself still speaks its language wherever it is asked for (a notification
    # keeps its application's language): only the choice of a reply language is limited.
    assert render("su", "lang.name") == "Basa Sunda"


def test_the_regency_served_fills_its_name_code_and_zone(serve) -> None:
    assert render("id", "ussd.error.kk.not_resident") == "Bukan KK Kota Bogor (diawali 3271)."
    assert render("en", "when.time", hour="09", minute="30") == "09:30 WIB"
    serve("7371")
    assert render("id", "ussd.error.kk.not_resident") == (
        "Bukan KK Kota Makassar (diawali 7371).")
    assert render("jv", "when.time", hour="09", minute="30") == "09.30 WITA"
    assert render("id", "register.ask_nik").startswith("Daftar cetak KTP-el Kota Makassar.")


@pytest.mark.parametrize(("code", "offered_here", "not_here"), [
    ("3271", ["BASA SUNDA", "LANG EN"], ["BASA JAWA"]),  # Kota Bogor
    ("3471", ["BASA JAWA", "LANG EN"], ["BASA SUNDA"]),  # Kota Yogyakarta
    ("7371", ["LANG EN"], ["BASA SUNDA", "BASA JAWA"]),  # Kota Makassar
])
def test_the_help_names_exactly_the_other_languages_offered(serve, code: str,
                                                            offered_here: list[str],
                                                            not_here: list[str]) -> None:
    serve(code)
    for key in ("help.main", "help.unknown"):
        text = render("id", key)
        assert all(word in text for word in offered_here), text
        assert not any(word in text for word in [*not_here, "BAHASA ID"]), text
        english = render("en", key)
        assert "BAHASA ID" in english and "LANG EN" not in english
    choose = render("id", "lang.choose")
    assert all(word in choose for word in ["BAHASA ID", *offered_here]), choose
    assert not any(word in choose for word in not_here), choose


def test_key_missing_in_a_language_falls_back_to_indonesian(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = catalogue.messages

    def without_cancel_nothing(lang: str) -> dict[str, str]:
        table = dict(real(lang))
        if lang == "en":
            del table["cancel.nothing"]
        return table

    monkeypatch.setattr(catalogue, "messages", without_cancel_nothing)
    assert render("en", "cancel.nothing") == real("id")["cancel.nothing"]
    assert render("en", "cancel.nothing").startswith("Tidak ada pendaftaran")


def test_render_turns_lookalikes_in_values_into_gsm7() -> None:
    text = render("id", "status.not_found", ref="\u201c123456789\u201d")
    assert is_gsm7(text)
    assert '"123456789"' in text


def test_a_template_fills_what_is_fixed_and_keeps_the_rest_for_format() -> None:
    fixed = {"day": "Selasa, 1 Desember 2026", "time": "09.00 WIB",
             "office": "Kantor {Kec.} Bogor Timur", "address": "Jl. \u201cRaya\u201d 1"}
    worded = template("id", "notify.pickup_scheduled", **fixed)
    assert "{cards}" in worded and "{code}" in worded
    per_card = {"cards": "KTP-el NIK ***1234", "code": "ACD347"}
    assert worded.format(**per_card) == render("id", "notify.pickup_scheduled",
                                               **fixed, **per_card)
    # Braces in a fixed value stay text, and the curly quotes became GSM-7 ones.
    assert "Kantor {Kec.} Bogor Timur, Jl. \"Raya\" 1." in worded.format(**per_card)


# --- the translators' glossary (flows/messages/GLOSSARY.md) -------------------------------------
def never_written() -> list[str]:
    """The "Never write" cells of the glossary's `## Terms` table."""
    text = (Path(catalogue.__file__).parent / "messages" / "GLOSSARY.md").read_text("utf-8")
    table = text.split("## Terms", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    column = header.index("Never write")
    variants = []
    for row in rows[2:]:
        cell = row.strip("|").split("|")[column]
        variants += re.findall(r"`([^`]+)`", cell)
    return variants


def test_the_glossary_lists_variants_to_avoid() -> None:
    variants = never_written()
    assert {"e-KTP", "Anda", "blanko"} <= set(variants)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_message_uses_a_term_the_glossary_forbids(lang: str) -> None:
    found = [(key, variant) for key, text in messages(lang).items() for variant in never_written()
             if re.search(rf"(?<!\w){re.escape(variant)}(?!\w)", text, re.IGNORECASE)]
    assert not found, f"{lang}: {found}"


# Words that begin like a fixed term and are another word ("buku nikah", the marriage book).
OTHER_WORDS = frozenset({"nikah"})


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_fixed_terms_are_spelled_the_same_everywhere(lang: str) -> None:
    for key, template_text in messages(lang).items():
        text = re.sub(r"\{[^}]*\}", "", template_text)  # placeholders are not words
        for term in ("KTP-el", "NIK", "Suket", "Kemendagri", "Disdukcapil"):
            for written in re.findall(rf"(?<!\w){term}\w*", text, re.IGNORECASE):
                if written.lower() in OTHER_WORDS:
                    continue
                assert written == term, f"{lang}:{key} writes {written!r} for {term}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_message_names_a_regency_or_a_time_zone(lang: str) -> None:
    """The regency and its zone are placeholders: one release serves any regency."""
    names = [name for name, _ in wilayah.regencies().values()]
    for key, text in messages(lang).items():
        written = [name for name in names if name.lower() in text.lower()]
        assert not written, f"{lang}:{key} names {written}: write {{regency}}"
        zones = [zone for zone in region.ZONES if re.search(rf"\b{zone}\b", text)]
        assert not zones, f"{lang}:{key} names {zones}: write {{zone}}"

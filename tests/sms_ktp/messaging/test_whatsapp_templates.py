"""A notice's WhatsApp template: its wording from the catalogue, its values read back from the
queued text, so that the template as sent reads exactly as the SMS."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.catalogue import languages, render
from sms_ktp.messaging.whatsapp_templates import (
    example_values,
    notice_keys,
    notice_parameters,
    notice_template,
)

# What a value may be: GSM-7 words, with the separators the wordings use inside them (a comma,
# a full stop, " di ", a colon), never a line break.
VALUE = st.text(alphabet=st.sampled_from(list("abcXYZ019 .,:/-()*")), min_size=1, max_size=30
                ).filter(lambda value: value.strip() == value and value.strip())


def filled(body: str, values: list[str]) -> str:
    for number, value in enumerate(values, 1):
        body = body.replace(f"{{{{{number}}}}}", value)
    return body


def test_the_notices_are_the_catalogue_s_and_each_has_a_wording_with_variables():
    keys = notice_keys()
    assert {"notify.pickup_scheduled", "notify.reminder", "notify.document_ready",
            "papers.missing", "papers.reminder", "phone_change.old_phone", "pickup.moved",
            "kk.notify.papers_checked"} <= set(keys)
    assert "papers.slot" not in keys  # a piece of a notice, not one
    for key in keys:
        template = notice_template(key, "id")
        assert "{" not in template.body.replace("{{", "").replace("}}", "")
        assert all(f"{{{{{n}}}}}" in template.body for n in range(1, len(template.names) + 1))


def test_the_regency_s_own_names_are_written_into_the_wording():
    template = notice_template("notify.pickup_scheduled", "id")
    assert template.names == ("cards", "day", "time", "office", "address", "code")
    assert template.body == ("{{1}} siap diambil {{2}}, {{3}} di {{4}}, {{5}}. Kode {{6}}. "
                             "Bawa SMS ini.")
    assert example_values(template)["{{6}}"] == "<code>"


@pytest.mark.parametrize("language", languages())
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_every_notice_s_values_are_read_back_so_that_the_template_reads_as_the_sms(
        language, data):
    key = data.draw(st.sampled_from(notice_keys()))
    template = notice_template(key, language)
    params = {name: data.draw(VALUE, label=name) for name in set(template.names)}
    text = render(language, key, **params)

    values = notice_parameters(key, language, text)

    assert values is not None and len(values) == len(template.names)
    assert filled(template.body, values) == text


def test_a_text_that_is_not_the_wording_has_no_values():
    text = render("id", "notify.reminder", cards="KTP-el NIK ***0001", day="Senin 7/12",
                  time="08:00", office="Kantor Kec. Bogor Selatan", code="X7CCDW")
    values = notice_parameters("notify.reminder", "id", text)
    # "{cards} {day}": where one ends is not told by the text, but the message reads the same.
    assert values is not None and values[-2:] == ["Kantor Kec. Bogor Selatan", "X7CCDW"]
    assert filled(notice_template("notify.reminder", "id").body, values) == text
    assert notice_parameters("notify.reminder", "id", text + " Dikirim pos? Balas KIRIM") is None
    assert notice_parameters("notify.reminder", "en_US", text) is None  # written in Indonesian
    assert notice_parameters("notify.reminder", "ms", text) is None  # no such catalogue
    assert notice_parameters("notify.nothing_like_it", "id", text) is None
    broken = text.replace("Senin 7/12", "Senin\n7/12")  # Meta refuses a line break in a value
    assert notice_parameters("notify.reminder", "id", broken) is None

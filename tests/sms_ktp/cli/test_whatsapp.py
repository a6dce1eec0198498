"""`sms-ktp whatsapp templates`: the wordings to submit to Meta, taken from the catalogue, with
which of them the configuration names."""

from __future__ import annotations

from pathlib import Path

from cli_runner import invoke

from flows.catalogue import render

WHATSAPP = ('[notifications]\nquiet_hours = ""\n[gateway.whatsapp]\nphone_number_id = "1"\n'
            'access_token = "t"\napp_secret = "s"\nverify_token = "v"\n'
            '[gateway.whatsapp.templates]\n'
            'notify.pickup_scheduled = { name = "ktp_jadwal_ambil", language = "id" }\n'
            'notification = { name = "kabar_layanan", language = "id" }\n')


def configured(folder: Path, text: str = WHATSAPP) -> Path:
    (folder / "sms-ktp.toml").write_text(text)
    return folder


def blocks(stdout: str) -> dict[str, list[str]]:
    """The output's blocks by their first line's first word (a notice's key)."""
    found: dict[str, list[str]] = {}
    current = ""
    for line in stdout.splitlines():
        if line.startswith("  "):
            found[current].append(line.strip())
        else:
            current = line.split()[0]
            found[current] = [line]
    return found


def test_each_notice_is_listed_with_its_wording_variables_and_configuration(tmp_path):
    shown = invoke(configured(tmp_path), "whatsapp", "templates")
    assert shown.returncode == 0, shown.stderr
    listed = blocks(shown.stdout)

    assert listed["notify.pickup_scheduled"] == [
        "notify.pickup_scheduled  (configured: ktp_jadwal_ambil, id)",
        "body: {{1}} siap diambil {{2}}, {{3}} di {{4}}, {{5}}. Kode {{6}}. Bawa SMS ini.",
        "{{1}} = <cards>", "{{2}} = <day>", "{{3}} = <time>", "{{4}} = <office>",
        "{{5}} = <address>", "{{6}} = <code>",
        "note: starts with a variable (Meta asks for a sample)"]
    assert listed["notification"][:3] == [
        "notification  (configured: kabar_layanan, id)",
        "body: Kabar layanan Disdukcapil Kota Bogor: {{1}} Balas pesan ini bila ada "
        "pertanyaan.", "{{1}} = the whole message"]
    assert listed["broadcast"][0] == "broadcast  (not configured)"
    assert listed["papers.missing"][0] == "papers.missing  (not configured)"
    assert listed["phone_change.old_phone"][1].startswith("body: SMS KTP-el keluarga KK {{1}}")
    assert "papers.slot" not in listed  # a piece of a notice, not a notice


def test_the_wordings_in_english_and_a_language_without_a_catalogue(tmp_path):
    folder = configured(tmp_path)
    english = blocks(invoke(folder, "whatsapp", "templates", "--language", "en_US").stdout)
    pickup = render("en", "notify.pickup_scheduled", cards="{{1}}", day="{{2}}", time="{{3}}",
                    office="{{4}}", address="{{5}}", code="{{6}}")
    assert english["notify.pickup_scheduled"][1] == f"body: {pickup}"

    refused = invoke(folder, "whatsapp", "templates", "--language", "ms")
    assert refused.returncode == 2
    assert refused.stderr.strip() == "sms-ktp: no catalogue is written in 'ms'"

"""A KK's signed PDF in a real browser: an operator uploads it on the application's page, the
family opens the link of its SMS on a phone-sized screen, types a wrong PIN (told how many tries
are left), then the right one, and the browser downloads the PDF; the application is then
collected. Screenshots of both pages are kept, and both pass axe's WCAG 2.1 A/AA rules."""

from __future__ import annotations

import re

from browser_pages import screenshot, sign_in
from click.testing import CliRunner
from document_steps import LINK, a_wrong_pin, apply_for_a_kk, attach, stage_of
from live_service import PHONE, LiveService
from staff_browser import make_staff

from sms_ktp.cli.common import Service
from sms_ktp.cli.main import cli

PDF = b"%PDF-1.7\n% Kartu Keluarga bertanda tangan elektronik\n%%EOF\n"


def advance(live: LiveService, reference: str) -> None:
    """`sms-ktp application advance REF`: the application to its next stage."""
    result = CliRunner().invoke(cli, ["application", "advance", reference],
                                obj=Service(runtime=live.runtime), catch_exceptions=False)
    assert result.exit_code == 0, result.stderr


def test_an_operator_uploads_the_kk_and_the_family_downloads_it(live, page, chromium, axe,
                                                                  tmp_path):
    live.runtime.settings.server.public_url = live.base_url
    reference = apply_for_a_kk(live)
    advance(live, reference)  # papers complete
    advance(live, reference)  # signed
    live.worker.run_once()
    live.received(PHONE)

    make_staff(live.runtime.db, "op01", "operator", office="01")
    sign_in(page, live.base_url, "op01")
    page.goto(f"{live.base_url}/staff/applications/{reference}")
    pdf = tmp_path / "KK baru.pdf"
    pdf.write_bytes(PDF)
    page.set_input_files("#dokumen input[type=file]", str(pdf))
    page.click("#dokumen button.primary")
    page.wait_for_url(f"**/staff/applications/{reference}#dokumen")
    panel = page.locator("#dokumen").inner_text()
    assert "KK baru.pdf" in panel
    assert "diunggah" in page.locator(".flashes").inner_text()
    screenshot(page, "document-upload")

    advance(live, reference)  # ready: the link's SMS
    live.worker.run_once()
    [sms] = live.received(PHONE)
    code, pin = LINK.search(sms).groups()
    link = re.search(r"(http\S+/d/[A-Z0-9]{8})", sms).group(1)

    phone = chromium.new_context(viewport={"width": 375, "height": 740}, locale="id-ID",
                                 accept_downloads=True, bypass_csp=True)
    family = phone.new_page()
    family.set_default_timeout(10_000)
    try:
        family.goto(link)
        assert "Disdukcapil Kota Bogor" in family.locator("body").inner_text()
        family.fill("input[name=pin]", a_wrong_pin(pin))
        family.click("button.primary")
        assert "PIN salah, sisa 4 kali" in family.locator("main").inner_text()
        assert axe(family) == []
        screenshot(family, "document-download-wrong-pin")
        family.fill("input[name=pin]", pin)
        with family.expect_download() as downloading:
            family.click("button.primary")
        download = downloading.value
        saved = tmp_path / "unduhan.pdf"
        download.save_as(saved)
        assert download.suggested_filename == "KK baru.pdf"
        assert saved.read_bytes() == PDF
    finally:
        phone.close()
    assert stage_of(live, reference) == "collected"
    assert code not in page.content()


def test_a_kelurahan_helper_prints_the_kk_whose_code_the_family_quotes(live, chromium, axe,
                                                                        tmp_path):
    """At a kelurahan office: the helper types the code the family reads from its SMS in the
    counter's search box, lands on the print page (the code nowhere on it) and prints the PDF;
    the application is then collected."""
    live.runtime.settings.server.public_url = live.base_url
    reference = apply_for_a_kk(live)
    advance(live, reference)  # papers complete
    advance(live, reference)  # signed
    attach(live, reference, {"KK baru.pdf": PDF}, actor="staff:op01")
    advance(live, reference)  # ready: the link's SMS with its code
    live.worker.run_once()
    code = re.search(r"kode ([A-Z0-9]{8})", live.received(PHONE)[-1]).group(1)

    make_staff(live.runtime.db, "kel.tanah", "helper", office="3271011002")
    office = chromium.new_context(viewport={"width": 1280, "height": 860}, locale="id-ID",
                                  accept_downloads=True, bypass_csp=True)
    page = office.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, live.base_url, "kel.tanah")
        page.get_by_role("link", name="Loket").click()
        page.get_by_label("Kode dokumen dari SMS warga").fill(f"{code[:4]} {code[4:]}")
        page.get_by_role("button", name="Cari").click()
        page.wait_for_url(f"**/staff/applications/{reference}/print")
        assert code not in page.url and code not in page.content()
        assert "KK baru.pdf" in page.locator("#cetak").inner_text()
        assert axe(page) == []
        screenshot(page, "document-print")
        with page.expect_download() as downloading:
            page.get_by_role("button", name="Cetak KK baru.pdf").click()
        saved = tmp_path / "cetak.pdf"
        downloading.value.save_as(saved)
        assert saved.read_bytes() == PDF
    finally:
        office.close()
    assert stage_of(live, reference) == "collected"

"""The phone simulator in a real browser: a feature phone drawn in the page, for demos and for
training kelurahan staff."""

from __future__ import annotations

from browser_pages import screenshot
from live_service import KK, NIK, PHONE


def test_texting_and_dialling_from_the_drawn_phone(live, page):
    page.goto(f"{live.base_url}/simulator/?phone=081234567890")
    page.fill("input[name=text]", "BANTUAN")
    page.click(".compose button")
    live.worker.run_once()
    page.reload()
    screen = page.locator("#screen").inner_text()
    assert "BANTUAN" in screen and "Layanan KTP-el Kota Bogor" in screen
    screenshot(page, "simulator-sms")

    page.click("text=Menu USSD *123#")
    assert "CON" not in page.locator("#screen").inner_text()  # the screen shows the menu only
    first = page.locator("#screen").inner_text()
    assert first.strip()
    page.click(".key[data-key='2']")  # the keypad types into the phone's input
    assert page.input_value("input[name=input]") == "2"
    page.click(".compose button")
    assert page.locator("#screen").inner_text() != first
    screenshot(page, "simulator-ussd")
    assert live.received(PHONE)  # the SMS answer went through the console gateway


def test_another_browser_sees_nothing_of_a_conversation_begun_elsewhere(live, page, chromium):
    page.goto(f"{live.base_url}/simulator/?phone=081234567890")
    page.fill("input[name=text]", "DAFTAR")
    page.click(".compose button")
    assert "Kirim NIK" in page.locator("#screen").inner_text()  # the demo: typed, answered

    other = chromium.new_context(locale="id-ID")  # another browser, another person
    stranger = other.new_page()
    stranger.goto(f"{live.base_url}/simulator/?phone=081234567890")
    screen = stranger.locator("#screen")
    assert screen.locator(".msg").count() == 0
    assert "Kirim NIK" not in screen.inner_text() and "Belum ada SMS" in screen.inner_text()
    stranger.fill("input[name=text]", "BANTUAN")
    stranger.click(".compose button")
    assert stranger.locator("#screen .msg").count() == 2  # its own SMS and the answer only
    assert "Kirim NIK" not in stranger.locator("#screen").inner_text()
    other.close()
    page.reload()
    assert "Kirim NIK" in page.locator("#screen").inner_text()  # still there where it began


def test_whatsapp_mode_taps_a_list_row_and_a_reply_button(live, chromium, axe):
    context = chromium.new_context(locale="id-ID", bypass_csp=True)  # axe's injected script
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live.base_url}/simulator/?phone=081234567890")
    page.click("nav.modes >> text=WhatsApp")  # the switch
    note = page.inner_text(".note >> nth=1")
    assert "mode=whatsapp" in page.url and "simulasi" in note and "belum diatur" in note
    page.fill("input[name=text]", f"DAFTAR {NIK}#{KK}")
    page.click(".compose button")
    page.click(".wa-list summary")  # the list opens from its button
    page.click(".wa-list button.row >> text=Hilang")
    screen = page.locator("#screen")
    assert "alasan hilang" in screen.inner_text()
    # The switch, the chat, its buttons and list, the drawn keypad (out of the tab order, its
    # letters readable) and the send button: no violation.
    assert [(violation["id"], node["target"]) for violation in axe(page)
            for node in violation["nodes"]] == []
    screenshot(page, "simulator-whatsapp")
    page.click("#screen button.reply >> text=Kirim")  # a reply button sends YA
    assert "Pendaftaran diterima" in screen.inner_text()
    assert screen.locator(".msg.in").all_inner_texts()[-2:] == ["2", "YA"]
    context.close()

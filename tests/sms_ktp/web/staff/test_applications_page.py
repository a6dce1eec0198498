"""The applications pages over real HTTP: residents register by SMS, staff find them, read the
timeline and decide; the family's phone receives what it should, the audit log records it, and
the full NIK shows only when revealed."""

from __future__ import annotations

import json
import re

import pytest
from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlalchemy import insert, select
from staff_browser import StaffBrowser, signed_in

from gsm7.encoding import segments, septets
from sms_ktp.applications import decisions, sms_budget
from sms_ktp.applications.hidden_codes import HIDDEN
from sms_ktp.models import (
    Application,
    AuditEntry,
    Broadcast,
    OutboxMessage,
    PickupVisit,
)
from sms_ktp.web import create_app

REF = re.compile(r"ref (\d{9})")
CODE = re.compile(r"Kode ([A-Z0-9]{6})")
NIK_3 = "3271015507880003"  # a second member of the first family
NIK_4 = "3271011203800006"  # a second member of the second family


def register(service: LiveService, nik: str, kk: str = KK, phone: str = PHONE) -> str:
    service.sms(phone, f"DAFTAR {nik}#{kk}#2")
    return REF.search(service.sms(phone, "YA")[0]).group(1)


def scheduled(service: LiveService, *niks: str, kk: str = KK,
              phone: str = PHONE) -> dict[str, str]:
    """Cards of one family (the first by default) printed and scheduled: reference -> the
    pickup code of its family visit."""
    references = [register(service, nik, kk, phone) for nik in niks]
    runtime = service.runtime
    service.print_cards(*niks)
    service.worker.run_once()
    with runtime.db.connect() as connection:
        codes = dict(connection.execute(
            select(Application.reference, PickupVisit.open_code)
            .join(PickupVisit, PickupVisit.id == Application.visit_id)
            .where(Application.reference.in_(references))).all())
    service.received(phone)
    return {reference: codes[reference] for reference in references}




@pytest.fixture
def admin(service) -> StaffBrowser:
    return signed_in(service, "admin1", "admin")


def stage_of(service: LiveService, reference: str) -> str:
    with service.runtime.db.connect() as connection:
        return connection.execute(select(Application.stage)
                                  .where(Application.reference == reference)).scalar_one()


def audit(service: LiveService) -> list[tuple[str, str, str, str]]:
    table = AuditEntry.__table__
    with service.runtime.db.connect() as connection:
        rows = connection.execute(select(table).where(table.c.action.like("application.%"))
                                  .order_by(table.c.id)).all()
    return [(row.actor, row.action, row.target, row.detail) for row in rows]


def page(browser: StaffBrowser, reference: str) -> str:
    response = browser.get(f"/staff/applications/{reference}")
    assert response.status_code == 200, response.text
    return response.text


def decide(browser: StaffBrowser, reference: str, action: str, **form: str) -> str:
    """POST one decision; it answers 303 back to the application; returns that page."""
    path = f"/staff/applications/{reference}"
    response = browser.post(f"{path}/{action}", form, allow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["Location"].endswith(path)
    return page(browser, reference)


def asked(service: LiveService, browser: StaffBrowser, reference: str, action: str,
          **form: str) -> str:
    """POST a decision that asks first: the confirmation page, with nothing changed yet (the
    stage, the outbox and the audit log as they were)."""
    before = (stage_of(service, reference), outbox_size(service), len(audit(service)))
    response = browser.post(f"/staff/applications/{reference}/{action}", form,
                            allow_redirects=False)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert 'name="confirmed" value="1"' in response.text
    assert (stage_of(service, reference), outbox_size(service), len(audit(service))) == before
    return response.text


def outbox_size(service: LiveService) -> int:
    with service.runtime.db.connect() as connection:
        return len(connection.execute(select(OutboxMessage.id)).all())


# --- search -------------------------------------------------------------------------------------

def listed(text: str) -> list[str]:
    """The references a results page links to, in order."""
    return re.findall(r'href="/staff/applications/(\d{9})"', text)


def test_search_by_reference_nik_and_phone_shows_only_masked_numbers(service, admin):
    first = register(service, NIK)
    second = register(service, NIK_2)
    other = register(service, NIK_3, KK_2, PHONE_2)
    by_reference = admin.get(f"/staff/applications?q={first[:4]} {first[4:]}").text
    assert listed(by_reference) == [first] and "***0001" in by_reference
    search_form = admin.get("/staff/applications").text
    assert '<form method="post" action="/staff/applications"' in search_form  # no NIK in URLs
    by_nik = admin.post("/staff/applications", {"q": "3271 0145.0190 0001"}).text
    assert listed(by_nik) == [first] and "Hasil untuk NIK ***0001: 1 permohonan" in by_nik
    by_phone = admin.get("/staff/applications", params={"q": "0812 3456 7890"}).text
    assert listed(by_phone) == [second, first]
    assert "***0002" in by_phone and "Bogor Selatan" in by_phone and "SMS" in by_phone
    by_e164 = admin.get("/staff/applications", params={"q": "+62 857-1111-2222"}).text
    assert listed(by_e164) == [other] and "Tanah Sareal" in by_e164
    assert listed(admin.get("/staff/applications").text) == [other, second, first]
    nothing = admin.get("/staff/applications", params={"q": "budi"}).text
    assert listed(nothing) == []
    assert "bukan nomor ref (9 angka), NIK (16 angka) atau nomor HP" in nothing
    for text in (by_reference, by_nik, by_phone, by_e164):
        assert NIK not in text and NIK_2 not in text and NIK_3 not in text and KK not in text


def test_operators_see_their_office_and_helpers_only_look_up(service):
    ours = register(service, NIK)
    theirs = register(service, NIK_3, KK_2, PHONE_2)
    operator = signed_in(service, "op06", "operator", "06")
    assert listed(operator.get("/staff/applications").text) == [theirs]
    assert listed(operator.get("/staff/applications", params={"q": ours}).text) == []
    assert listed(operator.get("/staff/applications", params={"q": PHONE}).text) == []
    helper = signed_in(service, "pendamping", "helper", "3271011001")
    assert listed(helper.get("/staff/applications").text) == []  # no browsing the city
    assert listed(helper.get("/staff/applications", params={"q": PHONE}).text) == [ours]
    viewer = signed_in(service, "pemantau", "viewer")
    assert viewer.get("/staff/applications").status_code == 403


# --- detail and reveal --------------------------------------------------------------------------

def test_the_detail_is_masked_and_revealing_it_is_audited(service, admin):
    reference = register(service, NIK)
    text = page(admin, reference)
    assert "***0001" in text and "***0003" in text and "+62***890" in text
    assert NIK not in text and KK not in text and PHONE not in text
    assert "Bogor Selatan" in text and "hilang" in text and "Warga lewat SMS" in text
    assert "Didaftarkan dari HP keluarga" in text
    assert audit(service) == []
    revealed = admin.post(f"/staff/applications/{reference}/reveal")
    assert revealed.status_code == 200 and revealed.headers["Cache-Control"] == "no-store"
    assert NIK in revealed.text and KK in revealed.text and PHONE not in revealed.text
    assert "tercatat di log audit" in revealed.text
    assert audit(service) == [("staff:admin1", "application.reveal_nik",
                               f"application {reference}", "NIK dan KK lengkap ditampilkan")]
    assert NIK not in page(admin, reference)  # the next look is masked again


def test_an_unknown_reference_is_a_404_page(admin):
    response = admin.get("/staff/applications/123456789")
    assert response.status_code == 404 and "Permohonan tidak ditemukan" in response.text
    assert admin.post("/staff/applications/123456789/reject",
                      {"reason": "x"}).status_code == 404


# --- decisions ----------------------------------------------------------------------------------

def test_a_rejection_reaches_the_family_and_the_timeline(service, admin):
    reference = register(service, NIK)
    budget = decisions.reason_budget()
    refused = decide(admin, reference, "reject", reason="x" * (budget + 1))
    assert f"{budget + 1} dari paling banyak {budget} karakter GSM-7" in refused
    assert stage_of(service, reference) == "submitted"
    assert "Tulis alasan penolakan" in decide(admin, reference, "reject", reason="   ")
    question = asked(service, admin, reference, "reject", reason=" Suket  tidak terbaca")
    sms = (f"KTP-el ref {reference} (NIK ***0001) ditolak petugas: Suket tidak terbaca. Tanya "
           "kelurahan, lalu ketik DAFTAR lagi.")
    assert f'<blockquote class="sms" id="sms-preview">{sms}</blockquote>' in question
    assert "SMS ke HP keluarga +62***890" in question and PHONE not in question
    assert "1 SMS &times; Rp 350 = <strong>Rp 350</strong>" in question
    assert '<input type="hidden" name="reason" value="Suket tidak terbaca">' in question
    assert "Ya, tolak permohonan" in question and NIK not in question
    text = decide(admin, reference, "reject", reason="Suket tidak terbaca", confirmed="1")
    assert "Permohonan ditolak. Warga diberi tahu alasannya lewat SMS." in text
    assert stage_of(service, reference) == "rejected"
    service.worker.run_once()
    assert service.received(PHONE) == [sms]  # the very text the page showed
    timeline = text[text.index("Riwayat"):]
    assert "ditolak" in timeline and "admin1 (Admin)" in timeline
    assert "Suket tidak terbaca" in timeline
    assert 'action="/staff/applications/' + reference + '/reject"' not in text  # closed now
    assert audit(service) == [("staff:admin1", "application.reject", f"application {reference}",
                               "alasan: Suket tidak terbaca")]
    assert "tidak bisa ditolak" in decide(admin, reference, "reject", reason="lagi",
                                          confirmed="1")
    assert len(audit(service)) == 1


def test_a_printed_card_cannot_be_rejected(service, admin):
    [reference] = scheduled(service, NIK)
    assert "tidak bisa ditolak" in decide(admin, reference, "reject", reason="terlambat")
    assert stage_of(service, reference) == "pickup_scheduled" and audit(service) == []


def test_an_operator_cancels_an_application_of_their_office(service):
    reference = register(service, NIK)
    service.received(PHONE)
    operator = signed_in(service, "op01", "operator", "01")
    assert "Tulis catatan pembatalan" in decide(operator, reference, "cancel", note="")
    question = asked(service, operator, reference, "cancel", note="warga minta batal di loket")
    assert "Batalkan permohonan" in question and "Catatan untuk riwayat: warga minta batal" in (
        question)
    assert "1 SMS &times; Rp 350" in question and "dibatalkan petugas" in question
    text = decide(operator, reference, "cancel", note="warga minta batal di loket",
                  confirmed="1")
    assert "Permohonan dibatalkan" in text and stage_of(service, reference) == "cancelled"
    service.worker.run_once()
    assert service.received(PHONE) == [
        f"Pendaftaran KTP-el ref {reference} (NIK ***0001) dibatalkan petugas. Ketik DAFTAR "
        "untuk daftar lagi atau tanya kelurahan."]
    assert "warga minta batal di loket" in text[text.index("Riwayat"):]
    assert audit(service) == [("staff:op01", "application.cancel", f"application {reference}",
                               "catatan: warga minta batal di loket")]


def test_a_reason_is_limited_in_septets_not_characters(service, admin):
    """50 characters with [ ] { } ~ ^ € take more than one SMS leaves; the longest reason the
    form takes still makes one SMS, in the family's language."""
    reference = register(service, NIK)
    budget = decisions.reason_budget()
    brackets = ("Foto [buram] {ulang} ~ KTP^ €5 " * 3)[:50]
    assert len(brackets) == 50 and sms_budget.length(brackets) > budget
    refused = decide(admin, reference, "reject", reason=brackets)
    assert "Alasan terlalu panjang untuk satu SMS" in refused
    assert stage_of(service, reference) == "submitted"
    page_ = page(admin, reference)
    assert f'data-septets-of="reason" data-septets-budget="{budget}"' in page_
    assert "septets.js" in page_
    longest = "Suket {tidak} terbaca " + "x" * (budget - 24)
    assert sms_budget.length(longest) == budget
    question = asked(service, admin, reference, "reject", reason=longest)
    assert "1 SMS &times;" in question
    assert "Permohonan ditolak" in decide(admin, reference, "reject", reason=longest,
                                          confirmed="1")
    service.worker.run_once()
    [sms] = service.received(PHONE)
    assert longest in sms and segments(sms) == 1 and septets(sms) <= 160


# --- who may do what ----------------------------------------------------------------------------

def test_an_operator_of_another_office_finds_nothing_to_act_on(service):
    reference = register(service, NIK)  # kecamatan 01
    operator = signed_in(service, "op06", "operator", "06")
    response = operator.get(f"/staff/applications/{reference}")
    assert response.status_code == 404 and "Permohonan tidak ditemukan" in response.text
    for action, form in (("reject", {"reason": "x"}), ("cancel", {"note": "x"}),
                         ("reveal", {})):
        refused = operator.post(f"/staff/applications/{reference}/{action}", form,
                                allow_redirects=False)
        assert refused.status_code == 404, action
        assert NIK not in refused.text
    assert stage_of(service, reference) == "submitted" and audit(service) == []


def test_a_helper_reads_the_detail_but_cannot_act(service):
    [reference] = scheduled(service, NIK)
    helper = signed_in(service, "pendamping", "helper", "3271011001")
    text = page(helper, reference)
    assert "***0001" in text and NIK not in text
    assert "<form" not in text.split("</header>")[1]  # no action, no reveal
    assert "Kode ambil" not in text  # the code is for the counter
    for action, form in (("reject", {"reason": "x"}), ("cancel", {"note": "x"}),
                         ("reveal", {})):
        refused = helper.post(f"/staff/applications/{reference}/{action}", form)
        assert refused.status_code == 403, action
        assert NIK not in refused.text
    assert stage_of(service, reference) == "pickup_scheduled" and audit(service) == []


def test_a_decision_without_the_csrf_token_is_refused(service, admin):
    reference = register(service, NIK)
    for action in ("reject", "cancel", "reveal"):
        response = admin.post(f"/staff/applications/{reference}/{action}",
                              {"reason": "x", "note": "x"}, csrf=False)
        assert response.status_code == 400, action
        assert NIK not in response.text
    assert stage_of(service, reference) == "submitted" and audit(service) == []


@pytest.mark.parametrize("trusted, recorded", [([], "127.0.0.1"),
                                               (["127.0.0.1/32"], "203.0.113.7")])
def test_the_audit_log_records_the_client_behind_a_trusted_proxy(service, admin, trusted,
                                                                 recorded):
    reference = register(service, NIK)
    service.runtime.settings.server.trusted_proxies = trusted
    page(admin, reference)
    admin.post(f"/staff/applications/{reference}/reveal",
               headers={"X-Forwarded-For": "203.0.113.7"})
    table = AuditEntry.__table__
    with service.runtime.db.connect() as connection:
        [address] = connection.execute(select(table.c.address).where(
            table.c.action == "application.reveal_nik")).scalars().all()
    assert address == recorded


# --- the pickup code is never shown ---------------------------------------------------------
# Staff type the code the resident shows at the counter: a code readable in the back office
# would let a card go to anybody. Cards are scheduled (their SMS carry codes), one is moved (a
# second SMS with the same code) and one collected (its timeline names the code); then every
# page is read, by every role.

ROLES = [("admin1", "admin", None), ("op01", "operator", "01"),
         ("pendamping", "helper", None), ("pemantau", "viewer", None)]


def every_page(service: LiveService, references: list[str]) -> list[str]:
    """Each GET route of the back office, from the app itself (a page added later is read
    too), with its placeholders filled; an application's page for every reference."""
    now = service.runtime.clock.now()
    with service.runtime.db.connect() as connection:
        broadcast = connection.execute(insert(Broadcast.__table__).values(
            text="Kantor tutup Jumat.", audience="all", status="done", created_by="t",
            created_at=now, send_at=now).returning(Broadcast.__table__.c.id)).scalar_one()
    paths = []
    for rule in create_app(service.runtime).url_map.iter_rules():
        if "GET" not in rule.methods or not rule.rule.startswith("/staff"):
            continue
        path = (rule.rule.replace("<code>", "01").replace("<int:broadcast_id>", str(broadcast))
                .replace("<int:family_id>", "1").replace("<int:batch_id>", "1")
                .replace("<fmt>", "csv").replace("<int:file_id>", "1"))
        path = path.replace("<int:visit_id>", str(visit_id(service, references[-1])))
        paths += ([path.replace("<reference>", ref) for ref in references]
                  if "<reference>" in path else [path])
    assert not [path for path in paths if "<" in path], paths
    return [*sorted(paths), f"/staff/messages?phone={PHONE}", "/staff/audit?q=collect",
            "/staff/broadcasts/recipients?audience=all"]


def visit_id(service: LiveService, reference: str) -> int:
    with service.runtime.db.connect() as connection:
        return connection.execute(select(Application.visit_id)
                                  .where(Application.reference == reference)).scalar_one()


def codes_sent(service: LiveService) -> set[str]:
    with service.runtime.db.connect() as connection:
        return {code for code in connection.execute(select(Application.pickup_code))
                .scalars() if code}


@pytest.fixture
def world(service) -> tuple[list[str], set[str]]:  # type: ignore[no-untyped-def]
    """Two families' visits of two cards each: the first family's moved, then handed over
    (its cards' timelines name the code); the second's still waiting (its pages list the
    visit's cards to hand over)."""
    cards = scheduled(service, NIK, NIK_3)
    waiting = scheduled(service, NIK_2, NIK_4, kk=KK_2, phone=PHONE_2)
    (moved, code), _ = cards.items()
    admin = signed_in(service, "admin0", "admin")
    visit = f"/staff/counter/visits/{visit_id(service, moved)}"
    assert "dipindah" in admin.post(f"{visit}/move", {"slot": "2026-12-01T08.30"}).text
    admin.post(f"{visit}/handover", {"code": code, "cards": list(cards)})
    assert "2 KTP-el tercatat sudah diambil" in admin.post(
        f"{visit}/handover/confirm", {"cards": list(cards)}).text
    service.worker.run_once()
    with service.runtime.db.connect() as connection:
        texts = " ".join(connection.execute(select(OutboxMessage.text)).scalars())
    codes = codes_sent(service)
    assert codes == {code, *waiting.values()} and len(codes) == 2
    assert all(code in texts for code in codes)  # the SMS carry them
    return [*cards, *waiting], codes


@pytest.mark.parametrize(("username", "role", "office"), ROLES)
def test_no_page_shows_a_pickup_code_to_any_role(service, world, username, role, office):
    references, codes = world
    browser = signed_in(service, username, role, office)
    read = []
    for path in every_page(service, references):
        response = browser.get(path)
        read.append(path)
        shown = [code for code in codes if code in response.text]
        assert not shown, f"{path} shows the pickup code"
    search = browser.post("/staff/applications", {"q": PHONE})
    assert not [code for code in codes if code in search.text]
    if role in ("admin", "operator"):
        page = browser.get(f"/staff/applications/{references[1]}").text
        assert "Diambil di loket (kode ambil cocok)" in page[page.index("Riwayat"):]
    assert read


def test_the_messages_page_shows_the_pickup_sms_with_its_code_hidden(service, world):
    _, codes = world
    admin = signed_in(service, "admin1", "admin")
    page = admin.get(f"/staff/messages?phone={PHONE}").text
    assert page.count(f"Kode {HIDDEN}") >= 2
    assert not [code for code in codes if code in page]


def test_a_residents_data_export_downloaded_by_staff_hides_the_code(service, world):
    _, codes = world
    admin = signed_in(service, "admin1", "admin")
    admin.get("/staff/privacy")
    response = admin.post("/staff/privacy/export", {"nik": NIK})
    assert response.status_code == 200
    document = json.loads(response.text)
    assert [a["pickup_code"] for a in document["applications"]] == [HIDDEN]
    assert any(f"Kode {HIDDEN}" in sms["text"] for sms in document["sms"])
    assert not [code for code in codes if code in response.text]
    preview = admin.post("/staff/privacy/erase", {"nik": NIK})
    assert not [code for code in codes if code in preview.text]


def test_a_stranger_reads_nothing(service, world):
    references, codes = world
    stranger = StaffBrowser(service.base_url)
    for path in every_page(service, references):
        assert not [code for code in codes if code in stranger.get(path).text], path

"""Who did what, in the words of the office. The timeline and the audit log store short codes
(`staff:admin1`, `operator:root`, `application.reject`) and notes in the log's own English, so
that what is stored stays stable for scripts and searches; staff read them here, in Indonesian.

Translating when a page is shown, not when a row is written, covers the rows written before a
wording existed, and keeps one place to read when a new action or note appears (the tests scan
the code for every action recorded and every note written, and fail on one without words).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from sqlalchemy import Connection, select

from flows.catalogue import messages, render
from sms_ktp.backoffice.roles import ROLE_NAMES, Role
from sms_ktp.models import StaffUser

_STAFF = StaffUser.__table__

# --- actors ---------------------------------------------------------------------------------
RESIDENT_CHANNELS = {"sms": "SMS", "ussd": "USSD", "whatsapp": "WhatsApp", "web": "simulator",
                     "link": "tautan unduh dan PIN"}
SYSTEM_JOBS = {"pickup": "jadwal pengambilan", "retention": "penghapusan data lama",
               "documents": "dokumen PDF", "papers": "serah berkas"}
INTEGRATIONS = {"kemendagri": "Sistem Kemendagri"}

# --- documents ------------------------------------------------------------------------------
# The documents (`sms_ktp.domain.documents`) as the office names them, in the catalogue's order.
DOCUMENT_NAMES = {"ktp": "KTP-el", "kk": "KK", "akta_lahir": "Akta Kelahiran",
                  "akta_mati": "Akta Kematian", "kia": "KIA"}


def document_words(code: str) -> str:
    """"KK", "Akta Kelahiran"...; a code not known here (a newer version's) as it is."""
    return DOCUMENT_NAMES.get(code, code)


# --- stages ---------------------------------------------------------------------------------
# A stage as staff read it: the catalogue's short words (`stage_short`, what STATUS lists for
# residents), except where the office needs to know more than the family.
STAGE_WORDS = {"papers_checked": "berkas lengkap", "signed": "sudah TTE",
               "ready": "siap diunduh"}


def stage_words(stage: str) -> str:
    """"berkas lengkap", "antre cetak"...; a stage not known here (a newer version's) as it
    is."""
    if stage in STAGE_WORDS:
        return STAGE_WORDS[stage]
    key = f"stage_short.{stage}"
    return render("id", key) if key in messages("id") else stage


def staff_roles(connection: Connection) -> dict[str, Role]:
    """Every account's role by user name: a few dozen rows, read once for a whole page."""
    return {row.username.lower(): Role(row.role)
            for row in connection.execute(select(_STAFF.c.username, _STAFF.c.role))}


def actor_words(actor: str, roles: Mapping[str, Role] | None = None) -> str:
    """"admin1 (Admin)", "Operator baris perintah (root)", "Warga lewat SMS", "Sistem"...; a form
    not known here is shown as it is rather than hidden."""
    kind, _, name = actor.partition(":")
    if kind == "staff" and name:
        role = (roles or {}).get(name.lower())
        return f"{name} ({ROLE_NAMES[role]})" if role else name
    if kind == "operator":
        return f"Operator baris perintah ({name})" if name else "Operator baris perintah"
    if kind == "resident":
        channel = RESIDENT_CHANNELS.get(name, name.upper())
        return f"Warga lewat {channel}" if channel else "Warga"
    if kind == "system":
        return f"Sistem ({SYSTEM_JOBS.get(name, name)})" if name else "Sistem"
    if kind == "integration":
        return INTEGRATIONS.get(name, f"Integrasi {name}".strip())
    if kind in {"worker", "scheduler"} and not name:
        return "Sistem"
    return actor


# --- audit actions --------------------------------------------------------------------------
ACTIONS = {
    "application.advance": "Memajukan tahap permohonan",
    "application.cancel": "Membatalkan permohonan",
    "application.collect": "Menyerahkan KTP-el di loket",
    "application.correct": "Memperbaiki pendaftaran",
    "application.papers_complete": "Mencatat berkas lengkap",
    "application.papers_missing": "Mencatat berkas kurang (SMS ke warga)",
    "application.pickup_kept": "Tidak menyerahkan KTP-el (dijadwalkan lagi)",
    "application.post_delivered": "Mencatat kiriman pos sampai",
    "application.post_sent": "Menyerahkan KTP-el ke kurir pos",
    "application.register": "Mendaftarkan warga di loket",
    "application.reject": "Menolak permohonan",
    "application.reschedule": "Memindah jadwal pengambilan",
    "application.resolve_duplicate": "Menyelesaikan data ganda",
    "application.reveal_nik": "Melihat NIK lengkap",
    "application.verify": "Memverifikasi permohonan",
    "applications.export": "Mengunduh daftar permohonan",
    "applications.export_full": "Mengunduh daftar permohonan dengan NIK lengkap",
    "blangko.add": "Menambah stok blangko",
    "broadcast.cancel": "Membatalkan siaran SMS",
    "broadcast.create": "Membuat siaran SMS",
    "counter.code_refused": "Kode ambil yang diketik tidak cocok",
    "counter.search": "Mencari keluarga di loket",
    "document.attach": "Mengunggah dokumen PDF bertanda tangan elektronik",
    "document.download": "Dokumen PDF diunduh dengan tautan dan PIN",
    "document.link_locked": "Tautan unduh dikunci: PIN salah terlalu sering",
    "document.print": "Mencetak dokumen PDF untuk warga di kantor",
    "document.renew_link": "Memperbarui tautan unduh dan PIN",
    "document.staff_download": "Mengunduh dokumen PDF untuk dicetak",
    "document.wrong_pin": "PIN tautan unduh salah",
    "family.phone_cancel": "Membatalkan penggantian nomor HP keluarga",
    "family.phone_change": "Mengganti nomor HP keluarga",
    "family.phone_code": "Mengirim kode konfirmasi ke nomor HP baru",
    "kelurahan.notice_passed": "Menyampaikan kabar kepada keluarga tanpa HP",
    "message.retry": "Mengirim ulang SMS yang gagal",
    "office.pickups_moved": "Memindah jadwal pengambilan di kantor",
    "office.update": "Mengubah pengaturan kantor",
    "penunggalan.import": "Mengimpor hasil penunggalan",
    "print.done": "Menandai batch cetak selesai",
    "print.reserve": "Membuat batch cetak",
    "privacy.erase": "Menghapus data pribadi warga",
    "privacy.export": "Mengekspor data pribadi warga",
    "privacy.retention_purge": "Menghapus data lama (masa simpan berakhir)",
    "privacy.rotate_key": "Mengganti kunci enkripsi",
    "privacy.rotate_lookup_key": "Mengganti kunci pencarian NIK/KK",
    "staff.add": "Membuat akun petugas",
    "staff.address_lockout": "Alamat IP ditahan: terlalu banyak gagal masuk",
    "staff.disable": "Menonaktifkan akun petugas",
    "staff.enable": "Mengaktifkan lagi akun petugas",
    "staff.lockout": "Akun dikunci: terlalu banyak gagal masuk",
    "staff.login": "Masuk",
    "staff.login_failed": "Gagal masuk",
    "staff.login_refused": "Masuk ditolak (akun atau alamat sedang ditahan)",
    "staff.password": "Mengganti kata sandi petugas",
    "staff.unlock": "Membuka kunci akun petugas",
}


def action_words(action: str) -> str:
    """The action as a phrase; an unknown one (written by a newer version) as its code."""
    return ACTIONS.get(action, action)


def actions_matching(text: str) -> list[str]:
    """The action codes whose words contain `text` (the audit log's search box)."""
    wanted = text.strip().lower()
    return sorted(code for code, words in ACTIONS.items() if wanted and wanted in words.lower())


TARGETS = {"application": "Permohonan", "office": "Kantor", "broadcast": "Siaran",
           "family": "Keluarga", "visit": "Kunjungan", "sms": "SMS", "batch": "Batch cetak",
           "site": "Tempat cetak", "staff": "Petugas", "outbox": "SMS", "phone": "HP",
           "csv": "Berkas", "file": "Berkas", "personal": "Data"}


def target_words(target: str) -> str:
    """"application 123456789" as "Permohonan 123456789"; the rest kept."""
    if target == "personal data":
        return "Data pribadi"
    kind, space, rest = target.partition(" ")
    words = TARGETS.get(kind)
    return f"{words} {rest}" if words and space else target


# --- timeline notes -------------------------------------------------------------------------
NOTES = {
    "registered by the family phone": "Didaftarkan dari HP keluarga",
    "registered at the counter by staff for the family phone; the resident's consent given to "
    "staff": "Didaftarkan petugas untuk HP keluarga; persetujuan warga diberikan kepada petugas",
    "waiting for blangko and its turn to print": "Menunggu blangko dan giliran cetak",
    "pickup scheduled": "Jadwal pengambilan ditetapkan dan dikirim lewat SMS",
    "pickup moved by the resident": "Jadwal pengambilan dipindah oleh warga",
    "pickup moved by staff": "Jadwal pengambilan dipindah oleh petugas",
    "pickup moved by staff to the chosen slot":
        "Jadwal pengambilan dipindah petugas ke jam yang dipilih",
    "not collected with the family's visit: a new visit follows":
        "Tidak diambil saat kunjungan keluarga: jadwal baru menyusul",
    "pickup SMS worded again: a card left the visit":
        "SMS jadwal dikirim ulang: satu kartu keluar dari kunjungan",
    "reminder sent": "Pengingat dikirim",
    "papers visit reminder sent": "Pengingat serah berkas dikirim",
    "papers visit moved by the resident": "Jadwal serah berkas dipindah oleh warga",
    "papers complete at the office": "Berkas lengkap diterima di kantor kecamatan",
    "pickup missed: rescheduled": "Tidak datang mengambil: dijadwalkan ulang",
    "pickup missed too often: held at the office":
        "Terlalu sering tidak datang: kartu disimpan di kantor",
    "to be posted to the address on the KK: asked by the family":
        "Dikirim lewat pos ke alamat KK atas permintaan keluarga",
    "delivered to the address on the KK": "Kiriman pos sampai di alamat KK",
    "downloaded by the family": "Diunduh keluarga",
    "printed at the office for the family": "Dicetak untuk warga di kantor kelurahan/kecamatan",
    "cancelled at the resident's request to erase their data":
        "Dibatalkan: warga meminta datanya dihapus",
    "personal data erased at the resident's request": "Data pribadi dihapus atas permintaan warga",
    "personal data erased: retention period over": "Data pribadi dihapus: masa simpan berakhir",
}
_RESULTS = {"PRR": "siap cetak (PRR)", "DUPLICATE": "terekam ganda (DUPLICATE)"}


def _penunggalan(found: re.Match[str]) -> str:
    words = f"Hasil penunggalan: {_RESULTS[found['result']]}"
    return f"{words}; {found['note']}" if found["note"] else words


_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"printed in batch (?P<batch>\d+)"),
     lambda found: f"Dicetak (batch cetak {found['batch']})"),
    (re.compile(r"print failed in batch (?P<batch>\d+)(?P<spoiled>, blangko spoiled)?: back in "
                r"the print queue"),
     lambda found: f"Gagal cetak di batch cetak {found['batch']}"
                   + (", blangko rusak" if found["spoiled"] else "")
                   + ": kembali ke antrean cetak"),
    (re.compile(r"papers missing: (?P<what>.*)", re.DOTALL),
     lambda found: f"Berkas kurang: {found['what']} (SMS ke warga)"),
    (re.compile(r"collected with (?P<code>\S+)"),
     lambda found: "Diambil di loket (kode ambil cocok)"),
    (re.compile(r"handed to (?P<courier>.+), tracking number (?P<tracking>\S+)"),
     lambda found: f"Diserahkan ke {found['courier']}, nomor kiriman {found['tracking']}"),
    (re.compile(r"penunggalan (?P<result>PRR|DUPLICATE)(?:: (?P<note>.*))?", re.DOTALL),
     _penunggalan),
]


def note_words(note: str) -> str:
    """A timeline note as staff read it. Notes typed by staff (a reason, a remark) are theirs and
    shown as typed; so is any note not known here."""
    if note in NOTES:
        return NOTES[note]
    for pattern, words in _PATTERNS:
        found = pattern.fullmatch(note)
        if found:
            return words(found)
    return note


# --- the details of audit entries written by the command line and the privacy jobs -----------
# They are stored as the commands print them (an operator's terminal); staff read them in words.
DETAILS = {
    "password set": "kata sandi baru dipasang",
    "disabled": "akun dinonaktifkan",
    "enabled": "akun diaktifkan lagi",
    "unlocked (was not locked); failed sign-ins count from zero":
        "kunci dibuka (tidak sedang terkunci); hitungan gagal masuk mulai dari nol",
}
COUNTS = {"applications": "permohonan", "sms": "SMS", "cancelled": "dibatalkan",
          "families": "keluarga", "retention_days": "masa simpan (hari)", "sms_out": "SMS keluar",
          "sms_in": "SMS masuk", "ussd_sessions": "sesi USSD", "phones": "nomor HP"}
_COUNTED = re.compile(r"\w+=\d+(?: \w+=\d+)*")
_DETAIL_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"role (?P<role>\w+)(?:, office (?P<office>\S+))?"),
     lambda found: f"peran {_role(found['role'])}"
                   + (f", kantor {found['office']}" if found["office"] else "")),
    (re.compile(r"unlocked \(was locked until (?P<until>.+)\)"),
     lambda found: f"kunci dibuka (terkunci sampai {found['until']})"),
]


def _role(value: str) -> str:
    try:
        return ROLE_NAMES[Role(value)]
    except ValueError:
        return value


def detail_words(detail: str) -> str:
    """An audit entry's detail as staff read it: the fixed phrases of the commands and the
    counts of the privacy jobs ("applications=2 sms=5") in words; anything else as written."""
    if detail in DETAILS:
        return DETAILS[detail]
    if _COUNTED.fullmatch(detail):
        pairs = (pair.split("=") for pair in detail.split())
        return ", ".join(f"{COUNTS.get(name, name)} {count}" for name, count in pairs)
    for pattern, words in _DETAIL_PATTERNS:
        found = pattern.fullmatch(detail)
        if found:
            return words(found)
    return detail


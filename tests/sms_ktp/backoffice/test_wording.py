"""Actors, audit actions and timeline notes in the office's words; and, by reading the code, that
every action recorded and every note written anywhere has them."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sms_ktp.backoffice import wording
from sms_ktp.backoffice.roles import Role
from sms_ktp.backoffice.staff import add_staff

SOURCE = Path(__file__).parents[3] / "sms_ktp"
ENGLISH = re.compile(r"\b(the|by|to|with|at|for|of|and|sent|scheduled|moved|registered|printed|"
                     r"collected|waiting|pickup|cancelled|erased|delivered|handed|posted)\b",
                     re.IGNORECASE)


@pytest.mark.parametrize(("actor", "words"), [
    ("staff:admin1", "admin1 (Admin)"),
    ("staff:ani", "ani (Pendamping kelurahan)"),
    ("staff:gone", "gone"),  # an account since removed: its name is still known
    ("operator:root", "Operator baris perintah (root)"),
    ("operator:", "Operator baris perintah"),
    ("resident:sms", "Warga lewat SMS"),
    ("resident:ussd", "Warga lewat USSD"),
    ("system:pickup", "Sistem (jadwal pengambilan)"),
    ("system:retention", "Sistem (penghapusan data lama)"),
    ("system", "Sistem"),
    ("integration:kemendagri", "Sistem Kemendagri"),
    ("something:new", "something:new"),
])
def test_every_actor_form_in_words(actor, words):
    roles = {"admin1": Role.ADMIN, "ani": Role.HELPER}
    assert wording.actor_words(actor, roles) == words


def test_roles_are_read_from_the_accounts(database):
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with database.connect() as connection:
        add_staff(connection, "Budi", "operator", "kata-sandi-rahasia-1", now, "01")
        roles = wording.staff_roles(connection)
    assert wording.actor_words("staff:budi", roles) == "budi (Operator kantor)"


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text("utf-8"))) for path in sorted(SOURCE.rglob("*.py"))
            if "migrations" not in path.parts]


def _constants(tree: ast.Module) -> dict[str, str]:
    """The module's `NAME = "text"` assignments."""
    found = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
    return found


def _called(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def recorded_actions() -> set[str]:
    """Every action the code writes to the audit log: the literal (or module constant) given to
    `audit.record`, the staff pages' `record` and the helpers that pass theirs on, the audit
    constants of the modules that record, and the account commands' `staff.<command>`."""
    everything: dict[str, str] = {}
    trees = _modules()
    for _, tree in trees:
        everything |= _constants(tree)
    actions: set[str] = set()
    for path, tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _called(node)
            position = {"record": 3 if isinstance(node.func, ast.Attribute) else 1,
                        "audit_decision": 0, "_audit": 0, "_settle": 2}.get(name)
            if position is None or len(node.args) <= position:
                continue
            given = node.args[position]
            if isinstance(given, ast.Constant) and isinstance(given.value, str):
                actions.add(given.value)
            elif isinstance(given, ast.Name) and given.id in everything:
                actions.add(everything[given.id])
            elif isinstance(given, ast.JoinedStr) and path.name == "staff.py":
                commands = re.findall(r'@group\.command\("([a-z_]+)"', path.read_text("utf-8"))
                actions |= {f"staff.{command}" for command in commands if command != "list"}
        if "audit" in path.read_text("utf-8"):
            actions |= {value for key, value in _constants(tree).items()
                        if key.endswith(("ACTION", "LOGIN", "LOGIN_FAILED", "LOGIN_REFUSED",
                                         "LOCKOUT", "UNLOCK"))
                        and re.fullmatch(r"[a-z_]+\.[a-z_]+", value)}
    return {action for action in actions if re.fullmatch(r"[a-z_]+\.[a-z_]+", action)}


def test_every_action_recorded_in_the_code_has_words():
    actions = recorded_actions()
    assert {"application.reject", "staff.login", "privacy.erase", "staff.disable",
            "application.register", "broadcast.create"} <= actions  # the scan finds them
    missing = sorted(action for action in actions if action not in wording.ACTIONS)
    assert missing == [], f"audit actions without words in sms_ktp/backoffice/wording.py: {missing}"


def test_action_words_and_the_search_by_words():
    assert wording.action_words("application.reject") == "Menolak permohonan"
    assert wording.action_words("future.thing") == "future.thing"
    assert wording.actions_matching("menolak") == ["application.reject"]
    assert "broadcast.create" in wording.actions_matching("SIARAN")
    assert wording.actions_matching("  ") == []
    assert wording.target_words("application 123456789") == "Permohonan 123456789"
    assert wording.target_words("personal data") == "Data pribadi"
    assert wording.target_words("something else") == "something else"


def written_notes() -> list[str]:
    """Every timeline note the code writes, with sample values for an f-string's blanks: `note=`
    arguments, `*_NOTE` constants and a `note` parameter's default."""
    notes = []

    def text(node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(part.value if isinstance(part, ast.Constant) else "7"
                           for part in node.values)
        return None

    for _, tree in _modules():
        for node in ast.walk(tree):
            argument = isinstance(node, ast.keyword) and node.arg == "note"
            constant = (isinstance(node, ast.Assign) and len(node.targets) == 1
                        and isinstance(node.targets[0], ast.Name)
                        and node.targets[0].id.endswith("_NOTE"))
            if argument or constant:
                found = text(node.value)  # type: ignore[union-attr]
            elif isinstance(node, ast.arguments):
                names = [arg.arg for arg in node.args[len(node.args) - len(node.defaults):]]
                found = next((text(default) for name, default in zip(names, node.defaults,
                                                                     strict=True)
                              if name == "note"), None)
            else:
                continue
            if found:
                notes.append(found)
    return notes


def test_every_note_the_code_writes_is_read_in_indonesian():
    notes = written_notes()
    assert "pickup scheduled" in notes and "registered by the family phone" in notes
    english = sorted({note for note in notes
                      if wording.note_words(note) == note and ENGLISH.search(note)})
    assert english == [], f"timeline notes without words in wording.NOTES: {english}"


@pytest.mark.parametrize(("note", "words"), [
    ("pickup scheduled", "Jadwal pengambilan ditetapkan dan dikirim lewat SMS"),
    ("printed in batch 12", "Dicetak (batch cetak 12)"),
    ("collected with ******", "Diambil di loket (kode ambil cocok)"),
    ("handed to Pos Indonesia, tracking number P123", "Diserahkan ke Pos Indonesia, nomor "
                                                      "kiriman P123"),
    ("penunggalan PRR", "Hasil penunggalan: siap cetak (PRR)"),
    ("penunggalan DUPLICATE: rekam ganda 2019",
     "Hasil penunggalan: terekam ganda (DUPLICATE); rekam ganda 2019"),
    ("Foto KK tidak terbaca", "Foto KK tidak terbaca"),  # typed by staff: kept as typed
])
def test_notes_in_words(note, words):
    assert wording.note_words(note) == words


@pytest.mark.parametrize(("detail", "words"), [
    ("role operator, office 03", "peran Operator kantor, kantor 03"),
    ("role admin", "peran Admin"),
    ("password set", "kata sandi baru dipasang"),
    ("unlocked (was locked until 30 Nov 2026 09.15 WIB)",
     "kunci dibuka (terkunci sampai 30 Nov 2026 09.15 WIB)"),
    ("applications=2 cancelled=1 families=1 sms=5",
     "permohonan 2, dibatalkan 1, keluarga 1, SMS 5"),
    ("retention_days=365 applications=0 families=0 sms_out=3 phones=1",
     "masa simpan (hari) 365, permohonan 0, keluarga 0, SMS keluar 3, nomor HP 1"),
    ("alasan: Suket tidak terbaca", "alasan: Suket tidak terbaca"),  # typed by staff: as is
])
def test_the_details_the_commands_and_jobs_write_are_read_in_words(detail, words):
    assert wording.detail_words(detail) == words


def test_every_document_has_its_name_for_staff():
    from sms_ktp.domain.documents import DOCUMENTS

    assert set(wording.DOCUMENT_NAMES) == set(DOCUMENTS)
    assert wording.document_words("akta_lahir") == "Akta Kelahiran"
    assert wording.document_words("pindah") == "pindah"  # a newer version's: as stored

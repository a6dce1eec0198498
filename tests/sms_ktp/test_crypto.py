"""Encryption at rest: sealed values open only with their key and in their column, keyed hashes
find applications and families on both databases, and the keys come from the configuration or
the environment (or, for a demo, the data folder), never silently missing."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

import pytest
from live_service import DATA_KEY, KK, KK_2, LOOKUP_KEY, NIK, NIK_2, PHONE
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError

from sms_ktp import crypto
from sms_ktp.backoffice import search
from sms_ktp.models import SEALED_LENGTH, Application, Family, PhoneState
from sms_ktp.platform.config import ConfigError, Settings, ensure_privacy_keys, load_settings
from sms_ktp.platform.db import Database
from sms_ktp.runtime import Runtime

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
OTHER_KEY = base64.b64encode(b"another-data-key-000000000000000").decode()  # with padding
SEALED = re.compile(r"1:[0-9a-f]{8}:[A-Za-z0-9_-]+=*")


# --- sealing ------------------------------------------------------------------------------------
def test_a_sealed_number_opens_in_its_column_and_shows_nothing_of_itself():
    first = crypto.encrypt(NIK, "application.nik")
    second = crypto.encrypt(NIK, "application.nik")

    assert first != second  # a nonce of its own each time: equal numbers look unrelated
    for sealed in (first, second):
        assert SEALED.fullmatch(sealed) and len(sealed) <= SEALED_LENGTH
        assert sealed.split(":")[1] == crypto.ring().current == crypto.key_id(
            crypto.parse_key(DATA_KEY, "test"))
        assert NIK not in sealed and NIK[-4:] not in sealed
        assert crypto.decrypt(sealed, "application.nik") == NIK


def flip(sealed: str, position: int) -> str:
    header, body = sealed.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[position] ^= 1
    return f"{header}:{base64.urlsafe_b64encode(bytes(raw)).decode()}"


@pytest.mark.parametrize("position", [0, 12, 20, -1], ids=["nonce", "text", "text2", "tag"])
def test_a_changed_byte_fails_loudly(position):
    sealed = crypto.encrypt(NIK, "application.nik")
    with pytest.raises(crypto.DecryptionError, match="does not open"):
        crypto.decrypt(flip(sealed, position), "application.nik")


def test_a_value_moved_into_another_column_does_not_open():
    sealed = crypto.encrypt(KK, "family.kk")
    with pytest.raises(crypto.DecryptionError, match=r"application\.nik: the sealed value"):
        crypto.decrypt(sealed, "application.nik")


@pytest.mark.parametrize("stored", ["3271014501900001", "2:abcd1234:AAAA", "1:abcd1234",
                                    "1:00000000:AAAA"])
def test_what_is_not_a_value_sealed_under_a_configured_key_fails(stored):
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(stored, "application.nik")


def test_a_value_sealed_under_a_key_no_longer_configured_names_that_key():
    sealed = crypto.encrypt(NIK, "application.nik")
    old = crypto.ring().current
    crypto.configure(OTHER_KEY, (), LOOKUP_KEY)
    with pytest.raises(crypto.DecryptionError, match=f"sealed under data key {old}, which is "
                                                     "neither"):
        crypto.decrypt(sealed, "application.nik")


def test_a_previous_key_still_opens_what_it_sealed_while_the_new_one_seals():
    sealed = crypto.encrypt(NIK, "application.nik")
    ring = crypto.configure(OTHER_KEY, [DATA_KEY], LOOKUP_KEY)

    assert crypto.decrypt(sealed, "application.nik") == NIK
    fresh = crypto.encrypt(NIK, "application.nik")
    assert crypto.sealed_key_id(fresh) == ring.current != crypto.sealed_key_id(sealed)


def test_without_keys_nothing_is_sealed_or_hashed(monkeypatch):
    monkeypatch.setattr(crypto, "_ring", None)
    assert not crypto.configured()
    with pytest.raises(crypto.PrivacyKeyError, match="no data key configured"):
        crypto.encrypt(NIK, "application.nik")
    with pytest.raises(crypto.PrivacyKeyError):
        crypto.keyed_hash(NIK, "nik")


def test_a_keyed_hash_is_the_same_for_the_same_number_and_key_only():
    hashed = crypto.keyed_hash(NIK, "nik")

    assert re.fullmatch(r"[0-9a-f]{64}", hashed)
    assert crypto.keyed_hash(NIK, "nik") == hashed
    assert crypto.keyed_hash(NIK_2, "nik") != hashed
    assert crypto.keyed_hash(NIK, "kk") != hashed  # a KK with the same digits: another hash
    crypto.configure(DATA_KEY, (), OTHER_KEY)
    assert crypto.keyed_hash(NIK, "nik") != hashed


@pytest.mark.parametrize("written", [
    base64.b64encode(b"k" * 32).decode(),  # standard, padded
    base64.urlsafe_b64encode(b"\xfb" * 32).decode().rstrip("="),  # URL-safe, unpadded
    " " + base64.b64encode(b"\xfb" * 32).decode() + "\n",  # pasted with spaces
])
def test_keys_are_read_in_either_base64(written):
    assert len(crypto.parse_key(written, "[privacy] data_key")) == 32
    assert len(crypto.parse_key(crypto.new_key(), "x")) == 32


@pytest.mark.parametrize("written", ["", "short", base64.b64encode(b"k" * 31).decode(),
                                     "not base64 at all!!!!!!!!!!!!!!!!!!!!!!!!!!"])
def test_a_key_that_is_not_32_bytes_is_refused_without_showing_it(written):
    with pytest.raises(crypto.PrivacyKeyError, match=r"\[privacy\] data_key must be 32") as told:
        crypto.parse_key(written, "[privacy] data_key")
    assert not written or written not in str(told.value)


def test_the_lookup_key_must_not_be_the_data_key():
    with pytest.raises(crypto.PrivacyKeyError, match="must differ"):
        crypto.make_ring(DATA_KEY, (), DATA_KEY)


# --- in the database ----------------------------------------------------------------------------
def add_application(database: Database, nik: str, kk: str, reference: str,
                    active: bool = True) -> int:
    """A family and an application, written as the service writes them: the numbers only."""
    with database.connect() as connection:
        family = connection.execute(select(Family.__table__.c.id).where(
            Family.__table__.c.kk_hash == kk)).scalar_one_or_none()
        if family is None:
            family = connection.execute(insert(Family.__table__).returning(Family.__table__.c.id),
                                        {"kk": kk, "phone": PHONE, "kecamatan_code": kk[4:6],
                                         "created_at": NOW}).scalar_one()
        return connection.execute(insert(Application.__table__).returning(
            Application.__table__.c.id), {
            "reference": reference, "nik": nik, "active_nik": nik if active else None,
            "family_id": family, "reason": "hilang", "stage": "submitted", "language": "id",
            "channel": "sms", "created_at": NOW, "updated_at": NOW, "pickup_reschedules": 0,
            "pickup_changes": 0}).scalar_one()


def test_numbers_are_stored_sealed_and_found_by_their_keyed_hash(database):
    add_application(database, NIK, KK, "100000015", active=False)
    add_application(database, NIK, KK, "100000023")
    add_application(database, NIK_2, KK_2, "100000031")

    with database.connect() as connection:
        stored = connection.execute(text("SELECT nik, nik_hash, active_nik FROM application "
                                         "ORDER BY id")).all()
        families = connection.execute(text("SELECT kk, kk_hash FROM family ORDER BY id")).all()
        found = connection.execute(select(Application.__table__.c.reference).where(
            Application.__table__.c.nik_hash == NIK).order_by(Application.__table__.c.id)
        ).scalars().all()
        active = connection.execute(select(Application.__table__.c.reference).where(
            Application.__table__.c.active_nik == NIK)).scalar_one()
        family = connection.execute(select(Family.__table__.c.kk).where(
            Family.__table__.c.kk_hash == KK_2)).scalar_one()
        searched = search.search(connection, "3271 0145 0190 0001")
    assert all(SEALED.fullmatch(nik) for nik, _, _ in stored)
    assert len({nik for nik, _, _ in stored}) == 3  # equal NIKs, unrelated ciphertexts
    assert [(hashed, active) for _, hashed, active in stored] == [
        (crypto.keyed_hash(NIK, "nik"), None), (crypto.keyed_hash(NIK, "nik"),) * 2,
        (crypto.keyed_hash(NIK_2, "nik"),) * 2]
    assert [kk_hash for _, kk_hash in families] == [crypto.keyed_hash(KK, "kk"),
                                                    crypto.keyed_hash(KK_2, "kk")]
    assert not any(KK in kk for kk, _ in families)
    assert found == ["100000015", "100000023"] and active == "100000023" and family == KK_2
    assert sorted(row.reference for row in searched.rows) == ["100000015", "100000023"]
    assert {row.nik for row in searched.rows} == {"***0001"}


def test_one_active_application_per_nik_still_holds(database):
    first = add_application(database, NIK, KK, "100000015")
    with pytest.raises(IntegrityError):
        add_application(database, NIK, KK, "100000023")
    with database.connect() as connection:  # closed: its NIK may apply again
        connection.execute(update(Application.__table__).where(
            Application.__table__.c.id == first).values(active_nik=None))
    add_application(database, NIK, KK, "100000023")
    with pytest.raises(IntegrityError), database.connect() as connection:  # one family per KK
        connection.execute(insert(Family.__table__), {
            "kk": KK, "phone": "+6285711112222", "kecamatan_code": "01", "created_at": NOW})


def test_the_orm_reads_and_writes_through_the_same_types(database):
    with database.transaction() as session:
        family = Family(kk=KK, phone=PHONE, kecamatan_code="01", created_at=NOW)
        session.add(family)
        session.flush()
        session.add(Application(reference="100000015", nik=NIK, active_nik=NIK,
                                family_id=family.id, reason="hilang", stage="submitted",
                                language="id", channel="sms", created_at=NOW, updated_at=NOW))
        session.add(PhoneState(phone=PHONE, answers={"nik": NIK_2, "kk": KK_2},
                               prefill={"reason": "2"}, updated_at=NOW))
    with database.transaction() as session:
        application = session.exec(select(Application).where(Application.nik_hash == NIK)
                                   ).scalars().one()
        state = session.get(PhoneState, PHONE)
        assert (application.nik, application.family_id) == (NIK, family.id)
        assert session.get(Family, family.id).kk_hash == crypto.keyed_hash(KK, "kk")
        assert (state.answers, state.prefill) == ({"nik": NIK_2, "kk": KK_2}, {"reason": "2"})
    with database.connect() as connection:
        raw = connection.execute(text("SELECT answers, prefill FROM phone_state")).one()
    assert all(SEALED.fullmatch(value) for value in raw)
    assert NIK_2 not in raw[0] and KK_2 not in raw[0]


def test_a_sealed_column_is_never_compared_in_sql():
    with pytest.raises(TypeError, match=r"application\.nik is encrypted: compare its keyed hash"):
        select(Application.__table__.c.id).where(Application.__table__.c.nik == NIK)
    with pytest.raises(TypeError):
        select(Family.__table__.c.id).where(Family.__table__.c.kk.in_([KK]))
    assert "IS NULL" in str(select(Application.__table__.c.id).where(
        Application.__table__.c.nik.is_(None)))


def test_a_ciphertext_copied_into_another_row_column_does_not_open(database):
    add_application(database, NIK, KK, "100000015")
    with database.connect() as connection:
        connection.execute(text("UPDATE application SET nik = (SELECT kk FROM family)"))
    with pytest.raises(crypto.DecryptionError), database.connect() as connection:
        connection.execute(select(Application.__table__.c.nik)).all()


# --- the keys: configuration, environment, data folder ---------------------------------------
def test_keys_come_from_the_file_or_the_environment(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(f'[privacy]\ndata_key = "{DATA_KEY}"\nlookup_key = "{LOOKUP_KEY}"\n'
                      f'previous_data_keys = ["{OTHER_KEY}"]\n')
    settings = load_settings(config, environ={})
    assert (settings.privacy.data_key, settings.privacy.previous_data_keys,
            settings.privacy.lookup_key) == (DATA_KEY, [OTHER_KEY], LOOKUP_KEY)

    other = crypto.new_key()
    settings = load_settings(config, environ={
        "SMS_KTP_DATA_KEY": other, "SMS_KTP_LOOKUP_KEY": DATA_KEY,
        "SMS_KTP_PREVIOUS_DATA_KEYS": f"{OTHER_KEY}, {LOOKUP_KEY},"})
    assert (settings.privacy.data_key, settings.privacy.previous_data_keys,
            settings.privacy.lookup_key) == (other, [OTHER_KEY, LOOKUP_KEY], DATA_KEY)


@pytest.mark.parametrize(("content", "message"), [
    ('[privacy]\ndata_key = "c2hvcnQ="\n', "[privacy] data_key must be 32 random bytes"),
    ('[privacy]\nprevious_data_keys = ["x"]\n', "[privacy] previous_data_keys must be 32"),
    (f'[privacy]\ndata_key = "{DATA_KEY}"\nlookup_key = "{DATA_KEY}"\n',
     "[privacy] lookup_key must differ from data_key"),
    ('[privacy]\nprevious_data_keys = "x"\n', "[privacy] previous_data_keys must be list"),
])
def test_a_wrong_key_stops_the_service_without_showing_it(tmp_path, content, message):
    config = tmp_path / "c.toml"
    config.write_text(content)
    with pytest.raises(ConfigError, match=re.escape(message)) as told:
        load_settings(config, environ={})
    assert DATA_KEY not in str(told.value)


def test_a_demo_generates_its_keys_once_into_the_data_folder(tmp_path):
    settings = Settings(data_dir=str(tmp_path / "var"))
    privacy = ensure_privacy_keys(settings)
    again = ensure_privacy_keys(Settings(data_dir=str(tmp_path / "var")))

    assert (again.data_key, again.lookup_key) == (privacy.data_key, privacy.lookup_key)
    assert privacy.data_key != privacy.lookup_key
    for name in ("data_key", "lookup_key"):
        assert (tmp_path / "var" / name).stat().st_mode & 0o077 == 0
    crypto.make_ring(privacy.data_key, (), privacy.lookup_key)  # real keys


def test_a_runtime_configures_the_process_keys_and_a_bare_one_keeps_them(tmp_path, clock):
    settings = Settings(data_dir=str(tmp_path))
    settings.database.url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    runtime = Runtime.from_settings(settings, clock=clock)
    generated = crypto.ring()
    assert generated.current == crypto.key_id(crypto.parse_key(settings.privacy.data_key, "x"))
    assert generated.current != crypto.key_id(crypto.parse_key(DATA_KEY, "x"))

    Runtime(Settings(data_dir=str(tmp_path / "other")), runtime.db, clock)
    assert crypto.ring() is generated
    assert not (tmp_path / "other").exists()  # nothing generated for a bare runtime
    runtime.db.dispose()

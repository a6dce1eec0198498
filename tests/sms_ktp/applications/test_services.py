"""`SqlServices` writing a registration on each engine: the rows it leaves when its first
reference is taken already, and when its family exists already."""

from __future__ import annotations

from sql_services import NOW, policy
from sqlalchemy import func, select

from sms_ktp.applications import services as services_module
from sms_ktp.applications.services import SqlServices
from sms_ktp.crypto import keyed_hash
from sms_ktp.messaging.phone_state import PhoneStateStore
from sms_ktp.models import Application, ApplicationEvent, Family
from sms_ktp.platform.clock import FixedClock

PHONE = "+6281234567890"
NIK, NIK_2 = "3271014501900001", "3271021506850002"
KK = "3271010101200003"


def register(database, nik: str) -> str:
    with database.connect() as connection:
        services = SqlServices(connection, FixedClock(NOW), PhoneStateStore(connection, PHONE),
                               policy())
        return services.submit_registration(PHONE, {"nik": nik, "kk": KK, "reason": "hilang"},
                                            "id")


def test_a_reference_given_already_is_drawn_again(database, monkeypatch):
    first = register(database, NIK)
    drawn = iter([first, first, "123456789"])
    monkeypatch.setattr(services_module, "new_reference", lambda: next(drawn))
    assert register(database, NIK_2) == "123456789"
    with database.connect() as connection:
        rows = connection.execute(select(Application.reference, Application.nik_hash,
                                         Application.active_nik, Application.family_id)
                                  .order_by(Application.id)).all()
        events = dict(connection.execute(
            select(ApplicationEvent.application_id, func.count())
            .group_by(ApplicationEvent.application_id)).all())
        families = connection.scalar(select(func.count()).select_from(Family))
    assert [row.reference for row in rows] == [first, "123456789"]
    assert [row.nik_hash for row in rows] == [keyed_hash(NIK, "nik"), keyed_hash(NIK_2, "nik")]
    assert rows[0].active_nik == keyed_hash(NIK, "nik") and rows[0].family_id == rows[1].family_id
    assert sorted(events.values()) == [1, 1] and families == 1

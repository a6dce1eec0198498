"""Worker heartbeats and job leases on a real database."""

from __future__ import annotations

from datetime import timedelta

from sms_ktp.platform import heartbeat

LEASE = timedelta(minutes=5)


def test_a_worker_is_registered_by_its_first_beat_and_gone_when_it_retires(database, clock):
    worker = "office-1:4242:0a1b2c3d"
    with database.connect() as connection:
        assert heartbeat.freshest(connection) is None
        heartbeat.beat(connection, worker, clock.now())
    clock.advance(timedelta(seconds=5))
    with database.connect() as connection:
        heartbeat.beat(connection, worker, clock.now())
        [seen] = heartbeat.workers(connection)
        assert (seen.host, seen.pid) == ("office-1", 4242)
        assert seen.beat_at - seen.started_at == timedelta(seconds=5)
        assert heartbeat.freshest(connection) == clock.now()
        heartbeat.retire(connection, worker)
        assert heartbeat.workers(connection) == []


def test_heartbeats_of_workers_gone_for_a_day_are_forgotten_when_one_starts(database, clock):
    with database.connect() as connection:
        heartbeat.beat(connection, "old:1:00000000", clock.now())
    clock.advance(timedelta(days=1, seconds=1))
    with database.connect() as connection:
        heartbeat.beat(connection, "new:2:00000000", clock.now())
        assert [w.host for w in heartbeat.workers(connection)] == ["new"]


def test_a_lease_is_held_by_one_worker_until_it_expires_or_is_released(database, clock):
    with database.connect() as connection:
        assert heartbeat.take_lease(connection, "allocate_pickups", "a:1:1", clock.now(), LEASE)
        assert not heartbeat.take_lease(connection, "allocate_pickups", "b:2:2", clock.now(),
                                        LEASE)
        assert heartbeat.take_lease(connection, "send_reminders", "b:2:2", clock.now(), LEASE)
        assert heartbeat.lease_holder(connection, "allocate_pickups", clock.now()) == "a:1:1"
    clock.advance(LEASE - timedelta(seconds=1))
    with database.connect() as connection:
        assert heartbeat.take_lease(connection, "allocate_pickups", "a:1:1", clock.now(), LEASE)
    clock.advance(LEASE - timedelta(seconds=1))  # renewed: still a's
    with database.connect() as connection:
        assert not heartbeat.take_lease(connection, "allocate_pickups", "b:2:2", clock.now(),
                                        LEASE)
    clock.advance(timedelta(seconds=2))  # a was killed and never renewed: b takes over
    with database.connect() as connection:
        assert heartbeat.take_lease(connection, "allocate_pickups", "b:2:2", clock.now(), LEASE)
        heartbeat.release_lease(connection, "allocate_pickups", "a:1:1")  # not a's any more
        assert heartbeat.lease_holder(connection, "allocate_pickups", clock.now()) == "b:2:2"
        heartbeat.release_lease(connection, "allocate_pickups", "b:2:2")
        assert heartbeat.lease_holder(connection, "allocate_pickups", clock.now()) is None

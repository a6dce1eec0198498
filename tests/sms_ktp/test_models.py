"""The schema's work-queue indexes are partial (one stage each), and the queries that serve a
queue name their stage in a way both databases can match to that index."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, in_stage

_APPLICATION = Application.__table__

QUEUES = [
    (Stage.PRINT_QUEUE, "ix_application_print_queue",
     select(_APPLICATION.c.id).where(in_stage(Stage.PRINT_QUEUE),
                                     _APPLICATION.c.print_batch_id.is_(None))
     .order_by(_APPLICATION.c.ready_at, _APPLICATION.c.id)),
    (Stage.PRINTED, "ix_application_printed",
     select(_APPLICATION.c.id).where(in_stage(Stage.PRINTED))
     .order_by(_APPLICATION.c.printed_at, _APPLICATION.c.id)),
    (Stage.PICKUP_SCHEDULED, "ix_application_pickup",
     select(_APPLICATION.c.id).where(in_stage(Stage.PICKUP_SCHEDULED),
                                     _APPLICATION.c.pickup_at < text("'2026-12-01'"))),
    (Stage.SUBMITTED, "ix_application_submitted",
     select(_APPLICATION.c.id).where(in_stage(Stage.SUBMITTED))
     .order_by(_APPLICATION.c.created_at, _APPLICATION.c.id).limit(50)),
    (Stage.DUPLICATE, "ix_application_duplicate",
     select(_APPLICATION.c.id).where(in_stage(Stage.DUPLICATE))
     .order_by(_APPLICATION.c.updated_at, _APPLICATION.c.id).limit(200)),
]


def plan(connection, query) -> str:
    sql = str(query.compile(connection, compile_kwargs={"literal_binds": True}))
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        return "\n".join(connection.execute(text("EXPLAIN " + sql)).scalars())
    return "\n".join(row[-1] for row in connection.execute(text("EXPLAIN QUERY PLAN " + sql)))


@pytest.mark.parametrize(("stage", "index", "query"), QUEUES, ids=[q[0].value for q in QUEUES])
def test_a_work_queue_is_read_through_its_partial_index(database, stage, index, query):
    with database.connect() as connection:
        assert index in plan(connection, query)


def test_the_stage_is_written_into_the_sql_not_bound():
    compiled = select(_APPLICATION.c.id).where(in_stage(Stage.PRINTED)).compile()
    assert "application.stage = 'printed'" in str(compiled)
    assert not compiled.params

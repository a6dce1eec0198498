"""The work queues of the back office with 30,000 applications: how long a page takes at the
start of a list, deep in it, under filters, and how long its total and its export take.

What is measured: `sms_ktp.backoffice.worklist.page(...)` (one page of 50 rows and the filtered
total, as the applications page reads them), `count(...)` alone, and the whole page over the
Flask app (`/staff/applications`, signed in as an admin, through the test client: routing,
session, queries and the template, no network). Each figure is the median of `--repeat` runs
after one warm-up run, in milliseconds.

Why these figures: a keyset page ("the 50 after id N") costs the same at the start and at the
end of the list, where OFFSET would read and throw away every row before the page. The run
says so in `deep_over_first`: the deep page's time over the first page's (target: below 3),
for the whole list and for a stage's queue; exit status 1 beyond, from 10,000 applications (a
smaller list's pages take a millisecond or two: noise).

Setup (not measured): a fresh schema, families of 1-4 members over the six kecamatan of Kota
Bogor, and `--applications` applications (default 30,000) inserted in bulk, made over the last
120 days in id order, spread over the stages as a busy regency has them (most collected or
waiting for pickup, a few thousand in each queue), with some blangko in stock. One in five is
another document than the KTP-el (KK, akta kelahiran and kematian, KIA), on its own stages: the
document filter is measured on the KK's list (about 2,400) and its queue of papers to check.

    python bench/worklist.py [--applications N] [--database-url URL] [--repeat R]

Default database: a fresh SQLite file in a temporary folder. On a PostgreSQL URL (loopback only)
the run gets a schema of its own, dropped with its tables at the end. The last line of the
output is a JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import check_database_url, kk_number, private_schema, settings_for
from sqlalchemy import String, and_, case, cast, insert, literal, select

from sms_ktp.backoffice import worklist
from sms_ktp.backoffice.staff import add_staff
from sms_ktp.backoffice.worklist import DateField, Filters, PrintWait
from sms_ktp.domain.local_time import local_date
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, ApplicationEvent, BlangkoMovement, Family
from sms_ktp.platform.clock import FixedClock
from sms_ktp.runtime import Runtime
from sms_ktp.web import create_app

APPLICATIONS = 30_000
MAX_APPLICATIONS = 300_000
START = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 30 November 2026, 09:00 WIB
SEED = 20261207
DAYS = 120
TARGET_DEEP_OVER_FIRST = 3.0
CHECKED_FROM = 10_000  # a smaller list takes a millisecond or two a page: noise, not a measure
KECAMATAN = ("01", "02", "03", "04", "05", "06")
KECAMATAN_WEIGHTS = (19, 10, 10, 23, 18, 20)
# Where 30,000 applications of a busy regency stand (weights).
STAGES = {Stage.COLLECTED: 40, Stage.PICKUP_SCHEDULED: 12, Stage.PRINT_QUEUE: 12,
          Stage.PENUNGGALAN: 10, Stage.SUBMITTED: 8, Stage.PRINTED: 3, Stage.DUPLICATE: 3,
          Stage.MISSED_PICKUP: 3, Stage.REJECTED: 3, Stage.CANCELLED: 3, Stage.PRINT_READY: 3}
# Which document an application is for (weights), and where each other document stands.
DOCUMENT_WEIGHTS = {"ktp": 80, "kk": 8, "akta_lahir": 5, "akta_mati": 2, "kia": 5}
PDF_STAGES = {Stage.COLLECTED: 40, Stage.READY: 10, Stage.SIGNED: 10, Stage.PAPERS_CHECKED: 15,
              Stage.SUBMITTED: 15, Stage.REJECTED: 5, Stage.CANCELLED: 5}
KIA_STAGES = {Stage.COLLECTED: 40, Stage.PICKUP_SCHEDULED: 12, Stage.PRINT_QUEUE: 12,
              Stage.PAPERS_CHECKED: 15, Stage.SUBMITTED: 10, Stage.PRINTED: 3,
              Stage.REJECTED: 3, Stage.CANCELLED: 3, Stage.MISSED_PICKUP: 2}
DOCUMENT_STAGES = {"ktp": STAGES, "kk": PDF_STAGES, "akta_lahir": PDF_STAGES,
                   "akta_mati": PDF_STAGES, "kia": KIA_STAGES}
DOCUMENT_REASONS = {"ktp": "baru", "kk": "tambah", "akta_lahir": "tepat",
                    "akta_mati": "kematian", "kia": "baru"}
PASSWORD = "bench-password-1234"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_EVENT = ApplicationEvent.__table__
HELPER_KELURAHAN = tuple(f"327101100{number}" for number in range(1, 6))  # of Bogor Selatan


def populate(runtime: Runtime, applications: int) -> None:
    rng = random.Random(SEED)
    # The documents drawn apart from the stages, so that the KTP-el's stay what they were.
    documents = random.Random(SEED + 1)
    families: list[dict[str, Any]] = []
    plan: list[int] = []  # members per family
    made = 0
    while made < applications:
        size = min(rng.choice((1, 1, 2, 2, 3, 4)), applications - made)
        kecamatan = rng.choices(KECAMATAN, KECAMATAN_WEIGHTS)[0]
        families.append({"kk": kk_number(kecamatan, len(families)),
                         "phone": f"+628122{len(families):07d}", "kecamatan_code": kecamatan,
                         "created_at": START - timedelta(days=DAYS)})
        plan.append(size)
        made += size
    step = timedelta(days=DAYS) / applications
    with runtime.db.connect() as connection:
        family_ids = connection.execute(
            insert(_FAMILY).returning(_FAMILY.c.id, sort_by_parameter_order=True),
            families).scalars().all()
        rows = []
        number = 0
        for family_id, family, size in zip(family_ids, families, plan, strict=True):
            for _ in range(size):
                created = START - timedelta(days=DAYS) + step * number
                document = documents.choices(list(DOCUMENT_WEIGHTS),
                                             list(DOCUMENT_WEIGHTS.values()))[0]
                weights = DOCUMENT_STAGES[document]
                stage = rng.choices(list(weights), list(weights.values()))[0]
                row: dict[str, Any] = {
                    "reference": f"{100_000_000 + number:09d}",
                    "nik": f"3271{family['kecamatan_code']}{1 + number % 28:02d}0190"
                           f"{1 + number % 9_999:04d}",
                    "family_id": family_id, "document": document,
                    "reason": DOCUMENT_REASONS[document], "stage": stage.value,
                    "language": "id", "channel": "sms", "created_at": created,
                    "updated_at": created, "ready_at": None, "printed_at": None,
                    "pickup_office": None, "pickup_at": None, "collected_at": None}
                if stage not in (Stage.SUBMITTED, Stage.PENUNGGALAN, Stage.DUPLICATE,
                                 Stage.REJECTED, Stage.CANCELLED, Stage.PAPERS_CHECKED,
                                 Stage.SIGNED):
                    row["ready_at"] = created + timedelta(days=3)
                if stage in (Stage.PRINTED, Stage.PICKUP_SCHEDULED, Stage.COLLECTED,
                             Stage.MISSED_PICKUP) and DOCUMENT_STAGES[document] is not PDF_STAGES:
                    row["printed_at"] = created + timedelta(days=10)
                    row["pickup_office"] = family["kecamatan_code"]
                    row["pickup_at"] = created + timedelta(days=14)
                if stage is Stage.COLLECTED:
                    row["collected_at"] = created + timedelta(days=14, hours=1)
                rows.append(row)
                number += 1
        for start in range(0, len(rows), 5_000):
            connection.execute(insert(_APPLICATION), rows[start:start + 5_000])
        # The registrations' timeline entries: a third of Bogor Selatan's families registered
        # by the helpers of five of its kelurahan, the rest by SMS (what the kelurahan filter
        # reads).
        for number, kelurahan in enumerate(HELPER_KELURAHAN, start=1):
            add_staff(connection, f"bench-kel{number}", "helper", PASSWORD, START, kelurahan)
        by_helper = and_(_FAMILY.c.kecamatan_code == "01", _APPLICATION.c.id % 3 == 0)
        helper = literal("staff:bench-kel") + cast(_APPLICATION.c.id % 5 + 1, String)
        connection.execute(insert(_EVENT).from_select(
            ["application_id", "at", "stage", "actor", "note"],
            select(_APPLICATION.c.id, _APPLICATION.c.created_at, literal("submitted"),
                   case((by_helper, helper), else_=literal("resident:sms")), literal(""))
            .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)))
        connection.execute(insert(BlangkoMovement.__table__).values(
            site="disdukcapil", delta=1_500, reason="added", actor="bench", at=START))
        add_staff(connection, "bench-admin", "admin", PASSWORD, START, None)


def median_ms(work: Callable[[], object], repeat: int) -> float:
    work()  # warm-up: the statement cache, the database's pages
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        times.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(times), 2)


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=APPLICATIONS,
                        help=f"applications in the database (default {APPLICATIONS})")
    parser.add_argument("--database-url",
                        help="default: a fresh SQLite file in a temporary folder; on a "
                        "(loopback) PostgreSQL, a private schema dropped at the end")
    parser.add_argument("--repeat", type=int, default=15, help="runs per figure (default 15)")
    args = parser.parse_args(argv)
    if not 100 <= args.applications <= MAX_APPLICATIONS:
        parser.error(f"--applications must be between 100 and {MAX_APPLICATIONS}")
    if not 1 <= args.repeat <= 1_000:
        parser.error("--repeat must be between 1 and 1000")
    if args.database_url:
        check_database_url(args.database_url, "bench/worklist.py")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    figures: dict[str, Any] = {"applications": args.applications}
    with (tempfile.TemporaryDirectory(prefix="sms-ktp-bench-") as folder,
          private_schema(args.database_url) as database_url):
        settings = settings_for(Path(folder), database_url, "bench/worklist.py")
        settings.staff.password_time_cost, settings.staff.password_memory_kib = 1, 32
        runtime = Runtime.from_settings(settings, clock=FixedClock(START))
        figures["database"] = runtime.db.dialect
        try:
            began = time.monotonic()
            runtime.db.create_schema()
            populate(runtime, args.applications)
            print(f"sms-ktp work queue benchmark: {runtime.db.dialect}, "
                  f"{args.applications} applications made in {time.monotonic() - began:.1f} s")
            _measure(runtime, args.repeat, figures)
        finally:
            runtime.db.dispose()
    problems = [f"{key} = {figures[key]} (target below {TARGET_DEEP_OVER_FIRST})"
                for key in ("deep_over_first", "queue_deep_over_first")
                if figures[key] >= TARGET_DEEP_OVER_FIRST
                and args.applications >= CHECKED_FROM]
    for problem in problems:
        print(f"WARNING: {problem}")
    print(json.dumps(figures), flush=True)
    return 1 if problems else 0


def _measure(runtime: Runtime, repeat: int, figures: dict[str, Any]) -> None:
    db = runtime.db
    with db.connect() as connection:
        free = 1_500
        whole = worklist.page(connection, Filters())
        last = worklist.page(connection, Filters(), last=True)
        queue = Filters(stage=Stage.PRINT_QUEUE)
        queue_last = worklist.page(connection, queue, last=True)
        kk = Filters(document="kk")
        kk_last = worklist.page(connection, kk, last=True)
    deep_id = last.rows[0].id + 1  # the page before the last: as deep as a list goes
    queue_deep = queue_last.rows[0].id
    kk_deep = kk_last.rows[0].id
    kk_queue = Filters(document="kk", stage=Stage.PAPERS_CHECKED)
    today = local_date(START)
    month = Filters(stage=Stage.SUBMITTED, kecamatan="04", date_field=DateField.CREATED,
                    since=today - timedelta(days=30), until=today)

    def read(filters: Filters, **cursor: Any) -> Callable[[], object]:
        def run() -> object:
            with db.connect() as connection:
                return worklist.page(connection, filters, free=free, **cursor)
        return run

    def total(filters: Filters) -> Callable[[], object]:
        def run() -> object:
            with db.connect() as connection:
                return worklist.count(connection, filters, free=free)
        return run

    measures = {
        "first_page_ms": read(Filters()),
        "deep_page_ms": read(Filters(), before=deep_id),
        "last_page_ms": read(Filters(), last=True),
        "queue_first_page_ms": read(queue),
        "queue_deep_page_ms": read(queue, before=queue_deep),
        "filtered_page_ms": read(month),
        "blangko_wait_page_ms": read(Filters(print_wait=PrintWait.BLANGKO)),
        "count_all_ms": total(Filters()),
        "count_filtered_ms": total(month),
        "kelurahan_page_ms": read(Filters(kelurahan=HELPER_KELURAHAN[0])),
        "count_kelurahan_ms": total(Filters(kelurahan=HELPER_KELURAHAN[0])),
        "document_page_ms": read(kk),
        "document_deep_page_ms": read(kk, before=kk_deep),
        "document_queue_page_ms": read(kk_queue),
        "count_document_ms": total(kk),
    }
    for name, work in measures.items():
        figures[name] = median_ms(work, repeat)
        print(f"  {name:<24} {figures[name]:>9.2f} ms")
    figures["total"] = whole.total
    with db.connect() as connection:
        figures["kelurahan_total"] = worklist.count(
            connection, Filters(kelurahan=HELPER_KELURAHAN[0]))
        figures["document_total"] = worklist.count(connection, kk)
    figures["deep_over_first"] = round(figures["deep_page_ms"] / figures["first_page_ms"], 2)
    figures["queue_deep_over_first"] = round(
        figures["queue_deep_page_ms"] / figures["queue_first_page_ms"], 2)

    client = create_app(runtime).test_client()
    login = client.get("/staff/login").get_data(as_text=True)
    client.post("/staff/login", data={"username": "bench-admin", "password": PASSWORD,
                                      "csrf_token": _TOKEN.search(login).group(1)})
    for name, path in (("http_first_page_ms", "/staff/applications"),
                       ("http_deep_page_ms", f"/staff/applications?before={deep_id}"),
                       ("http_queue_page_ms", "/staff/applications?stage=print_queue"),
                       ("http_dashboard_ms", "/staff/"),
                       ("http_document_page_ms", "/staff/applications?document=kk"),
                       ("http_document_dashboard_ms", "/staff/?document=kk")):
        def get(path: str = path) -> object:
            response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code}")
            return response
        figures[name] = median_ms(get, repeat)
        print(f"  {name:<24} {figures[name]:>9.2f} ms")
    began = time.perf_counter()
    exported = client.get("/staff/applications/export.csv").get_data()
    figures["export_csv_all_ms"] = round((time.perf_counter() - began) * 1000, 1)
    figures["export_csv_rows"] = exported.count(b"\n") - 1
    print(f"  {'export_csv_all_ms':<24} {figures['export_csv_all_ms']:>9.1f} ms "
          f"({figures['export_csv_rows']} rows)")
    if figures["export_csv_rows"] != figures["total"]:
        raise SystemExit("the export did not hold every application")


if __name__ == "__main__":
    sys.exit(main())

"""bench/worklist.py run small: it fills the tables, times every figure and exports every row
it made."""

from __future__ import annotations

from bench_scripts import run_script


def test_the_work_queue_benchmark_runs_small():
    status, figures, output = run_script("worklist.py", "--applications", "400", "--repeat", "1")
    assert status == 0, output
    assert figures["applications"] == 400 and figures["total"] == 400
    assert figures["export_csv_rows"] == 400 and figures["deep_page_ms"] > 0
    assert figures["kelurahan_total"] > 0 and figures["kelurahan_page_ms"] > 0

import time

from bench.cli import parse_args
from bench.load import run_threads
from bench.stats import Result, format_table, percentile


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 99) == 7.0


def test_summary_reports_milliseconds_errors_and_throughput():
    result = Result("GET /x/")
    for seconds in (0.010, 0.020, 0.030, 0.040):
        result.record(seconds)
    result.record(0.050, "HTTP 500")
    result.elapsed = 0.5

    summary = result.summary()

    assert summary["requests"] == 5
    assert summary["errors"] == 1
    assert summary["error_kinds"] == {"HTTP 500": 1}
    assert summary["throughput_rps"] == 10.0
    assert (summary["p50_ms"], summary["max_ms"]) == (30.0, 50.0)


def test_skipped_scenario_shows_its_reason_in_the_table():
    skipped = Result("GET /api/posts/").skip("endpoint not available (HTTP 404)")

    table = format_table([skipped.summary()])

    row = next(line for line in table.splitlines() if line.startswith("GET /api/posts/"))
    assert row.endswith("skipped: endpoint not available (HTTP 404)")


def test_tickets_stop_at_the_deadline_and_say_so():
    def worker(_index, tickets):
        while tickets.next() is not None:
            time.sleep(0.001)

    elapsed, tickets = run_threads(1_000_000, 2, 0.05, worker)

    assert elapsed < 2
    assert tickets.truncated
    assert tickets.issued < 1_000_000


def test_run_threads_hands_out_each_operation_once():
    seen = []

    def worker(_index, tickets):
        while (ticket := tickets.next()) is not None:
            seen.append(ticket)

    _elapsed, tickets = run_threads(50, 4, 10, worker)

    assert sorted(seen) == list(range(50))
    assert not tickets.truncated


def test_quick_caps_counts_and_keeps_two_users_per_client():
    args = parse_args(["--quick", "--concurrency", "3"])

    assert (args.requests, args.concurrency) == (10, 2)
    assert args.users >= 2 * args.concurrency

"""The process sweep with its servers side by side: alternating slices keep a ratio honest on
a machine whose speed drifts."""

from dataclasses import dataclass

from bench import cli, rest


@dataclass
class FakeServer:
    workers: int


def test_every_server_gets_one_slice_per_round_in_turn():
    servers = [FakeServer(1), FakeServer(2), FakeServer(4)]
    order = []

    def measure(server):
        order.append(server.workers)
        return rest.RestResult("x", requests=10, elapsed=1.0)

    results = cli.alternating(servers, measure, slices=3)
    assert order == [1, 2, 4] * 3
    assert {w: r.summary()["rps"] for w, r in results.items()} == {1: 10.0, 2: 10.0, 4: 10.0}


def test_a_machine_that_slows_down_midway_does_not_skew_the_ratio():
    # Two workers serve 1.8x one worker's rate at any moment; the machine halves its speed after
    # the first half of the run. One server after the other, the second would look slower than
    # it is; in alternating slices both see the same slow half.
    servers = [FakeServer(1), FakeServer(2)]
    clock = {"slices": 0}

    def measure(server):
        speed = 1.0 if clock["slices"] < 4 else 0.5
        clock["slices"] += 1
        rate = 100 * speed * (1.8 if server.workers == 2 else 1.0)
        return rest.RestResult("x", requests=int(rate), elapsed=1.0)

    results = cli.alternating(servers, measure, slices=4)
    assert results[2].summary()["rps"] / results[1].summary()["rps"] == 1.8


def test_the_report_says_each_ratio_and_any_errors():
    rows = [
        {"name": "GET /api/posts/", "workers": 2, "ratio": 1.74, "errors": 0, "slices": 5},
        {"name": "GET /api/posts/", "workers": 4, "ratio": None, "errors": 3, "slices": 5},
    ]
    (text,) = cli.side_by_side_lines(rows)
    assert text == (
        "process sweep side by side, 5 alternating slices, GET /api/posts/: 2 workers 1.74x, "
        "4 workers - (3 errors) the req/s of 1 worker"
    )
    assert cli.side_by_side_lines([]) == []


def test_an_earlier_json_prints_its_side_by_side_sweep(tmp_path):
    import json

    report = {
        "date": "2026-12-02T02:00:00+00:00",
        "git_commit": "abc1234",
        "git_dirty": False,
        "duration_s": 380.0,
        "machine": {"cpus": 2, "platform": "Linux", "python": "3.11.7", "loadavg_at_end": [1.0, 1.0, 1.0]},
        "rest": [],
        "scaling": [{"name": "GET /api/users/me/", "workers": 2, "ratio": 1.6, "errors": 0, "slices": 5}],
    }
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(report))

    assert (
        "process sweep side by side, 5 alternating slices, GET /api/users/me/: 2 workers 1.60x "
        "the req/s of 1 worker"
    ) in cli.markdown(path)

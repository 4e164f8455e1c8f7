"""Latency bookkeeping and the two outputs: a table for people, JSON for machines."""

import math
import threading
from collections import Counter
from dataclasses import dataclass, field


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile: the smallest value with at least pct% of values at or below it."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Result:
    name: str
    status: str = "ok"  # ok | skipped | failed
    note: str = ""
    latencies: list[float] = field(default_factory=list)  # seconds, successes and errors alike
    errors: int = 0
    error_kinds: Counter = field(default_factory=Counter)
    elapsed: float = 0.0
    part_of: str | None = None  # a step timed inside a larger scenario (the session lifecycle)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, seconds: float, error: str | None = None):
        with self._lock:
            self.latencies.append(seconds)
            if error:
                self.errors += 1
                self.error_kinds[error] += 1

    def skip(self, reason: str) -> "Result":
        self.status, self.note = "skipped", reason
        return self

    def fail(self, reason: str) -> "Result":
        self.status, self.note = "failed", reason
        return self

    def summary(self) -> dict:
        values = sorted(self.latencies)
        count = len(values)

        def ms(value: float):
            return None if math.isnan(value) else round(value * 1000, 2)

        return {
            "name": self.name,
            "part_of": self.part_of,
            "status": self.status,
            "note": self.note,
            "requests": count,
            "errors": self.errors,
            "error_kinds": dict(self.error_kinds.most_common(5)),
            "elapsed_s": round(self.elapsed, 3),
            "throughput_rps": round(count / self.elapsed, 1) if count and self.elapsed > 0 else None,
            "p50_ms": ms(percentile(values, 50)),
            "p95_ms": ms(percentile(values, 95)),
            "p99_ms": ms(percentile(values, 99)),
            "max_ms": ms(values[-1] if values else math.nan),
        }


COLUMNS = [
    ("scenario", "name", 46),
    ("reqs", "requests", 6),
    ("errs", "errors", 5),
    ("req/s", "throughput_rps", 8),
    ("p50 ms", "p50_ms", 8),
    ("p95 ms", "p95_ms", 8),
    ("p99 ms", "p99_ms", 8),
    ("max ms", "max_ms", 8),
]


def _cell(value, width: int, left: bool) -> str:
    text = "-" if value is None else str(value)
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.ljust(width) if left else text.rjust(width)


def format_table(summaries: list[dict]) -> str:
    header = "  ".join(_cell(title, width, i == 0) for i, (title, _, width) in enumerate(COLUMNS))
    lines = [header, "-" * len(header)]
    for row in summaries:
        if row.get("part_of"):
            row = {**row, "name": f"  - {row['name']}"}
        if row["status"] == "skipped" or (row["status"] == "failed" and not row["requests"]):
            lines.append(f"{_cell(row['name'], COLUMNS[0][2], True)}  {row['status']}: {row['note']}")
            continue
        lines.append("  ".join(_cell(row[key], width, i == 0) for i, (_, key, width) in enumerate(COLUMNS)))
        if row["note"]:
            lines.append(
                f"{'':{COLUMNS[0][2]}}  {'note' if row['status'] == 'ok' else row['status']}: {row['note']}"
            )
        if row["error_kinds"]:
            kinds = ", ".join(f"{kind} x{n}" for kind, n in row["error_kinds"].items())
            lines.append(f"{'':{COLUMNS[0][2]}}  errors: {kinds}")
    return "\n".join(lines)

"""Latency bookkeeping and the tables people read (the JSON holds the same rows)."""

import math


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile: the smallest value with at least pct% of values at or below it."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _ms(value: float):
    return None if math.isnan(value) else round(value * 1000, 2)


def latency_summary(seconds: list[float]) -> dict:
    values = sorted(seconds)
    return {
        "p50_ms": _ms(percentile(values, 50)),
        "p99_ms": _ms(percentile(values, 99)),
        "max_ms": _ms(values[-1] if values else math.nan),
    }


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_table(rows: list[dict], columns: list[tuple[str, str]], markdown: bool = False) -> str:
    """columns: (title, key). The first column is left-aligned, the rest right-aligned."""
    cells = [[_cell(row.get(key)) for _, key in columns] for row in rows]
    titles = [title for title, _ in columns]
    if markdown:
        lines = ["| " + " | ".join(titles) + " |", "|---" + "|---:" * (len(titles) - 1) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [max(len(t), *(len(r[i]) for r in cells)) if cells else len(t) for i, t in enumerate(titles)]

    def line(values):
        pairs = enumerate(zip(values, widths, strict=True))
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in pairs)

    return "\n".join([line(titles), "-" * (sum(widths) + 2 * (len(widths) - 1)), *map(line, cells)])

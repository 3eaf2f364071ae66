"""Small text helpers shared by the report's tables, sections and templates."""

from __future__ import annotations

import math


def pct(x, digits: int = 2) -> str:
    """A fraction as a percentage without the sign, '–' for missing values."""
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}"


def ci_text(low, high, digits: int = 2) -> str:
    """An interval of accuracies (fractions) in percent, clipped to 0–100 with a mark where it reaches beyond
    (a t interval of two seeds can: "-9.33–160.56")."""
    if low is None or high is None or (isinstance(low, float) and math.isnan(low)):
        return "–"
    clipped = low < 0 or high > 1
    text = f"{100 * max(low, 0.0):.{digits}f}–{100 * min(high, 1.0):.{digits}f}"
    return text + " (clipped to 0–100)" if clipped else text


def sizes_label(sizes) -> str:
    return "[" + ",".join(str(s) for s in sizes) + "]"


def markdown_table(header, rows) -> str:
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"

"""Small text helpers shared by the report's tables, sections and templates."""

from __future__ import annotations

import math


def pct(x, digits: int = 2) -> str:
    """A fraction as a percentage without the sign, '–' for missing values."""
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}"


def sizes_label(sizes) -> str:
    return "[" + ",".join(str(s) for s in sizes) + "]"


def markdown_table(header, rows) -> str:
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"

"""A run's per-epoch record (:class:`History`) and how a run that diverged ends (:class:`Diverged`)."""

from __future__ import annotations


#: Columns that hold counts (read back as integers, so that a resumed run's history is the same text).
INTEGER_COLUMNS = ("epoch", "exact_fallbacks")
#: Columns about the machine that ran the epoch, not about what it computed: the clock's seconds, and how many
#: elements exact arithmetic recomputed exactly (whether a float64 value lands near a float32 rounding boundary
#: depends on the order the BLAS or the compiled kernel summed in).  Exact arithmetic's byte contract is the
#: rest of the history (:func:`results_csv`).
MACHINE_COLUMNS = ("seconds", "eval_seconds", "exact_fallbacks")


def results_csv(text: str) -> str | None:
    """A history.csv's text without :data:`MACHINE_COLUMNS`: what training computed, which exact arithmetic
    makes the same bytes on every machine; None for text that is not a table of equal rows."""
    rows = [line.split(",") for line in text.splitlines()]
    if not rows or any(len(row) != len(rows[0]) for row in rows):
        return None
    keep = [i for i, name in enumerate(rows[0]) if name not in MACHINE_COLUMNS]
    return "".join(",".join(row[i] for i in keep) + "\n" for row in rows)


class History:
    """Per-epoch records, one dict per epoch with the same keys.

    Keys: ``epoch`` (1-based), ``train_cost``, ``train_accuracy``,
    ``val_cost``, ``val_accuracy``, ``test_cost``, ``test_accuracy`` (None
    without such data; the training numbers are those of the monitored rows,
    all of them or a fixed sample, and with the test set evaluated by need
    the test numbers are None except at the best-validation epoch and the
    last epoch),
    ``penalty`` (λ Σ|w|^p at the end of the epoch), ``grad_norm_1`` …
    ``grad_norm_L`` (mean over the epoch's steps of ‖(1/|B|) Σ ∂C_x/∂b_ℓ‖),
    ``seconds`` (the SGD steps; in a stack, the stack's SGD time divided by the
    runs it trained that epoch) and ``eval_seconds`` (the run's monitoring passes).
    """

    def __init__(self, records: list[dict] | None = None):
        self.records: list[dict] = list(records or [])

    def append(self, record: dict) -> None:
        self.records.append(dict(record))

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i):
        return self.records[i]

    def column(self, key: str) -> list:
        return [r[key] for r in self.records]

    @property
    def columns(self) -> list[str]:
        return list(self.records[0]) if self.records else []

    def to_csv(self) -> str:
        """The history as CSV text (floats with full round-trip precision)."""
        cols = self.columns
        lines = [",".join(cols)]
        for r in self.records:
            lines.append(",".join("" if r[c] is None else repr(r[c]) for c in cols))
        return "\n".join(lines) + "\n"

    @classmethod
    def from_csv(cls, text: str) -> History:
        rows = [line.split(",") for line in text.strip().splitlines()]
        if not rows:
            return cls()
        head, body = rows[0], rows[1:]
        records = []
        for row in body:
            rec = {}
            for key, val in zip(head, row):
                rec[key] = None if val == "" else (int(val) if key in INTEGER_COLUMNS else float(val))
            records.append(rec)
        return cls(records)

    def __eq__(self, other) -> bool:
        return isinstance(other, History) and self.records == other.records


class Diverged(RuntimeError):
    """Training produced a non-finite cost.

    Carries the epoch (1-based) at which the cost stopped being finite, the
    last finite training cost (None if the first epoch already failed) and
    the history up to the last finite epoch.
    """

    def __init__(self, epoch: int, last_finite_cost, history: History):
        self.epoch = epoch
        self.last_finite_cost = last_finite_cost
        self.history = history
        last = "none" if last_finite_cost is None else f"{last_finite_cost:.6g}"
        super().__init__(
            f"training diverged at epoch {epoch}: the cost became non-finite "
            f"(last finite cost {last}); lower eta or change the initialisation"
        )

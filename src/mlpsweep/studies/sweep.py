"""Kind ``sweep``: a search space over any setting, expanded into runs and chosen on validation.

A sweep starts every point from one topology (``base``) and changes the
settings it names — top-level keys (``eta``, ``hidden``, …) or nested ones by
dotted path (``penalty.lambda``):

``grid``     every combination of the listed values;
``random``   ``n`` draws (``seed``) from ``loguniform: [a, b]``, ``uniform: [a, b]``,
             ``randint: [a, b]`` or ``choice: [v, …]``, rounded to 3 significant
             digits so that names and values agree;
both         the grid crossed with the draws.

:func:`expand` turns a definition into points with stable, readable, path-safe
names (``{sweep}__eta-0.1__batch_size-10``; a short hash suffix only when a
name would be too long): the same config always gives the same points.  Each
point is an ordinary topology, so training, evaluation, incremental re-runs
and the SLURM profile work on it unchanged; ``sweep.csv`` lists them.

The report ranks the points on mean *validation* accuracy over seeds (at each
run's best validation epoch, or at its final epoch: ``select_on``), never on
test; the chosen point's test accuracy is shown with its interval, and the
verdict asks whether the winner beats the runner-up on the test set by more
than ``margin_pp`` (Welch, superiority; inconclusive when the seeds cannot tell).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import re

import numpy as np

from .. import verdicts as v
from ..config import name_max
from ..verdicts import Outcome, Verdict
from .base import Data, Job, Section, StudyKind, thresholds

log = logging.getLogger("mlpsweep.studies.sweep")

NAME_LIMIT = name_max()  # a point's name is a topology name: the schema's limit
SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
POINTS_FILE = "results/sweeps/{study}/sweep.csv"
#: A run trained up to a rung of successive halving (the workflow's staged training rule writes it).
RUNG_MODEL = "results/{dataset}/rungs/{study}/r{rung}/{topology}/seed{seed}/model.json"

_pair = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}


class SweepError(ValueError):
    """A sweep definition that cannot be expanded (the message names the key)."""


def _fmt(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "x".join(_fmt(x) for x in value)
    if isinstance(value, dict):
        return "_".join(f"{k}{_fmt(x)}" for k, x in sorted(value.items()))
    return str(value)


def point_name(study: str, point: dict) -> str:
    """A path-safe name from a point's values; a hash suffix only when the name would be too long."""
    name = SAFE.sub("-", "__".join([study] + [f"{k}-{_fmt(point[k])}" for k in sorted(point)]))
    if len(name) <= NAME_LIMIT:
        return name
    digest = hashlib.sha256(json.dumps(point, sort_keys=True).encode()).hexdigest()[:8]
    return f"{name[: NAME_LIMIT - 9]}-{digest}"


def _round(x: float) -> float:
    return float(f"{x:.3g}")


def _draw(rng: np.random.Generator, spec: dict, where: str):
    ((dist, arg),) = spec.items()
    if dist == "choice":
        return copy.deepcopy(arg[int(rng.integers(len(arg)))])
    low, high = arg
    if not low < high:
        raise SweepError(f"{where}.{dist}: the bounds must rise, got [{low}, {high}]")
    if dist == "loguniform":
        if low <= 0:
            raise SweepError(f"{where}.loguniform: the bounds must be positive, got [{low}, {high}]")
        return _round(math.exp(rng.uniform(math.log(low), math.log(high))))
    if dist == "uniform":
        return _round(rng.uniform(low, high))
    if not (float(low).is_integer() and float(high).is_integer()):
        raise SweepError(f"{where}.randint: the bounds must be integers, got [{low}, {high}]")
    return int(rng.integers(int(low), int(high) + 1))


def _set_path(settings: dict, dotted: str, value) -> None:
    parts = dotted.split(".")
    node = settings
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = copy.deepcopy(value)


def _check_path(dotted: str, where: str, spec: dict) -> None:
    """``dotted`` must name a setting (``penalty.lambda``: a key of a nested setting)."""
    props = spec["properties"]
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if part not in props:
            raise SweepError(f"{where}: unknown setting {'.'.join(parts[: i + 1])!r}; settings are {sorted(props)}")
        sub = props[part]
        if i < len(parts) - 1:
            if "properties" not in sub:
                raise SweepError(f"{where}: {part!r} has no nested settings")
            props = sub["properties"]


def expand(study: str, d: dict) -> list[dict]:
    """The points of a sweep definition, in a stable order: ``[{setting path: value}]``."""
    from ..config import load_schema

    spec = load_schema()["definitions"]["settings"]
    grid = d.get("grid") or {}
    rand = d.get("random")
    where = f"study_definitions.{study}"
    if not grid and not rand:
        raise SweepError(f"{where}: a sweep needs a grid, a random search, or both")
    for key, values in grid.items():
        _check_path(key, f"{where}.grid.{key}", spec)
    grid_points = [{}]
    for key in grid:  # in the order written: the first axis varies slowest
        grid_points = [{**p, key: copy.deepcopy(val)} for p in grid_points for val in grid[key]]
    random_points = [{}]
    if rand:
        space = rand["space"]
        for key in space:
            _check_path(key, f"{where}.random.space.{key}", spec)
            if key in grid:
                raise SweepError(f"{where}.random.space.{key}: {key!r} is swept by the grid as well")
        rng = np.random.default_rng(rand["seed"])
        random_points = [
            {key: _draw(rng, space[key], f"{where}.random.space.{key}") for key in sorted(space)}
            for _ in range(rand["n"])
        ]
    points = [{**g, **r} for g in grid_points for r in random_points]
    seen: dict[str, int] = {}
    for i, p in enumerate(points):
        key = json.dumps(p, sort_keys=True)
        if key in seen:
            raise SweepError(
                f"{where}: points {seen[key]} and {i} are the same ({point_name(study, p)}); "
                "widen the random space, lower n, or remove a repeated grid value"
            )
        seen[key] = i
    return points


def point_topology(base: dict, point: dict) -> dict:
    """The topology of a point: the base topology's own keys with the point's values set."""
    out = copy.deepcopy(base)
    for key, value in point.items():
        _set_path(out, key, value)
    return out


def _log_spaced(values) -> bool:
    vals = sorted({float(x) for x in values if isinstance(x, int | float) and not isinstance(x, bool)})
    if len(vals) < 3 or vals[0] <= 0:
        return len(vals) == 2 and vals[0] > 0 and vals[1] / vals[0] >= 10
    return vals[-1] / vals[0] >= 20


def decide(winner, runner_up, *, margin: float, alpha: float, min_seeds: int, power: float = 0.8) -> Verdict:
    """Is the chosen point better than the runner-up on the test set?  ``(name, test accuracies)`` each."""
    th = {"margin_pp": 100 * margin, "alpha": alpha, "min_seeds": min_seeds}
    if runner_up is None:
        return Verdict(
            Outcome.INCONCLUSIVE,
            "inconclusive: only one point finished (with successive halving: "
            "reached the last rung), so there is no runner-up to compare.",
            {},
            th,
        )
    return v.better(
        runner_up[1],
        winner[1],
        margin=margin,
        alpha=alpha,
        min_seeds=min_seeds,
        power=power,
        what=f"test accuracy, {winner[0]} − {runner_up[0]}",
    )


def ranking(points: dict, metrics: dict, seeds, select_on: str) -> list[dict]:
    """Points ranked by mean validation accuracy (``select_on``), best first; test accuracies alongside."""
    from ..stats import mean_ci

    key = "best_validation_epoch" if select_on == "best_epoch" else "final_epoch"
    rows = []
    for name, values in points.items():
        ms = [metrics[(name, s)] for s in seeds if (name, s) in metrics]
        ok = [m for m in ms if m["status"] == "ok"]
        val = np.array([m[key]["val_accuracy"] for m in ok])
        test = np.array([m["test"]["accuracy"] for m in ok])
        t = mean_ci(test)
        rows.append(
            {
                "point": name,
                **{f"{k}": _fmt(x) for k, x in values.items()},
                "values": values,
                "epochs": min((m["epochs_completed"] for m in ms), default=0),
                "finished": len(ok),
                "runs": len(ms),
                "val_mean": float(val.mean()) if len(val) else math.nan,
                "test": test,
                "test_mean": t.mean,
                "test_low": t.ci_low,
                "test_high": t.ci_high,
            }
        )
    rows.sort(key=lambda r: (-r["val_mean"] if math.isfinite(r["val_mean"]) else math.inf, r["point"]))
    for rank, r in enumerate(rows, start=1):
        r["rank"] = rank
    return rows


class Sweep(StudyKind):
    name = "sweep"
    verdict_keys = ("alpha", "min_seeds", "margin_pp", "select_on")
    summary = "a grid and/or random search over any settings, ranked on validation, with the winner's test accuracy"
    pairwise = False
    options = {
        "base": {"type": "string", "description": "The topology whose settings every point starts from."},
        "grid": {
            "type": "object",
            "default": {},
            "additionalProperties": {"type": "array", "minItems": 1},
            "description": "Setting (dotted path for nested ones) -> the values to combine.",
        },
        "random": {
            "type": "object",
            "additionalProperties": False,
            "required": ["n", "space"],
            "description": "n draws from a space of distributions (loguniform, uniform, randint: [a, b]; choice).",
            "properties": {
                "n": {"type": "integer", "minimum": 1, "description": "Number of draws."},
                "seed": {"type": "integer", "minimum": 0, "default": 0, "description": "Seed of the draws."},
                "space": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": {
                        "type": "object",
                        "minProperties": 1,
                        "maxProperties": 1,
                        "additionalProperties": False,
                        "properties": {
                            "loguniform": _pair,
                            "uniform": _pair,
                            "randint": _pair,
                            "choice": {"type": "array", "minItems": 1},
                        },
                    },
                },
            },
        },
        "select_on": {
            "enum": ["best_epoch", "final_epoch"],
            "default": "best_epoch",
            "description": "Validation accuracy that ranks the points: at each run's best validation "
            "epoch, or at its final epoch (never the test set).",
        },
        "max_runs": {
            "type": "integer",
            "minimum": 1,
            "default": 5000,
            "description": "Refuse a sweep of more runs (points × seeds) than this.",
        },
        "halving": {
            "type": "object",
            "additionalProperties": False,
            "required": ["rungs"],
            "description": "Successive halving: every point trains to the first rung's epoch; the best share "
            "(keep) on validation continues to the next rung, resuming from its checkpoint, and so "
            "on.  The last rung is the points' number of epochs.",
            "properties": {
                "rungs": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 1},
                    "minItems": 2,
                    "description": "Epochs at which points are compared, rising.",
                },
                "keep": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "exclusiveMaximum": 1,
                    "default": 0.33,
                    "description": "Share of the points at a rung that go on (at least one).",
                },
            },
        },
        "margin_pp": {
            "type": "number",
            "minimum": 0,
            "default": 0.0,
            "description": "The verdict's margin: by how many percentage points of test accuracy the "
            "chosen point must beat the runner-up.",
        },
    }
    plots = ("effects", "heatmaps", "curves")  # captions: studies/captions/{kind}-{plot}.rst

    def generate(self, study: str, definition: dict, config: dict) -> dict:
        """The sweep's points as topologies (name -> topology), added to the config by the plan."""
        where = f"study_definitions.{study}"
        base = definition.get("base")
        if not base:
            raise SweepError(f"{where}.base: a sweep needs the topology its points start from")
        if base not in config["topologies"]:
            raise SweepError(f"{where}.base: unknown topology {base!r}; define it under topologies")
        points = expand(study, definition)
        runs = len(points) * len(definition["seeds"])
        if runs > definition["max_runs"]:
            raise SweepError(
                f"{where}: {len(points)} points × {len(definition['seeds'])} seeds = {runs} runs, more "
                f"than max_runs = {definition['max_runs']}; shrink the space or raise max_runs"
            )
        halving = definition.get("halving")
        if halving:
            rungs = halving["rungs"]
            if any(b <= a for a, b in zip(rungs, rungs[1:])):
                raise SweepError(f"{where}.halving.rungs: the epochs must rise, got {rungs}")
            if "epochs" in (definition.get("grid") or {}) or "epochs" in (
                (definition.get("random") or {}).get("space") or {}
            ):
                raise SweepError(f"{where}.halving: epochs cannot be swept with halving (the rungs set them)")
        out = {}
        for p in points:
            name = point_name(study, p)
            if name in out or name in config["topologies"]:
                raise SweepError(f"{where}: two points share the name {name!r}")
            out[name] = point_topology(config["topologies"][base], p)
            if halving:
                out[name]["epochs"] = halving["rungs"][-1]
        definition["points"] = {point_name(study, p): p for p in points}
        return out

    # -- successive halving: stage r trains the points alive at rung r to its epoch; decision r + 1 picks -------
    def trains_in_stages(self, definition: dict) -> bool:
        return bool(definition.get("halving"))

    def stages(self, definition: dict) -> int:
        return len(definition["halving"]["rungs"]) - 1 if definition.get("halving") else 0

    def stage_epoch(self, definition: dict, stage: int) -> int:
        return definition["halving"]["rungs"][stage]

    def trained_at(self, definition: dict, stage: int, decided) -> list[str]:
        """Every point at rung 0; then the previous rung's pick."""
        return list(definition["points"]) if stage == 0 else decided(stage)["selected"]

    def stage_inputs(self, study: str, definition: dict, dataset: str, stage: int, decided) -> list[str]:
        """The pick after rung ``stage`` − 1 reads the runs trained there."""
        rung = stage - 1
        return [
            RUNG_MODEL.format(dataset=dataset, study=study, rung=rung, topology=p, seed=s)
            for p in self.trained_at(definition, rung, decided)
            for s in definition["seeds"]
        ]

    def stage_arguments(self, study: str, definition: dict, stage: int, inputs: list[str]) -> dict:
        return {
            "models": list(inputs),
            "keep": definition["halving"]["keep"],
            "select_on": definition["select_on"],
            "epoch": self.stage_epoch(definition, stage - 1),
        }

    def decide_stage(self, arguments: dict, previous: str | None, out: str) -> None:
        a = arguments
        halving_select(a["models"], a["keep"], a["select_on"], a["epoch"], out)

    def staged_runs(self, definition: dict, decided) -> list[tuple[str, int, int]]:
        """Each point's runs at the last rung it trained at."""
        last = {}
        for rung in range(len(definition["halving"]["rungs"])):
            for point in self.trained_at(definition, rung, decided):
                last[point] = rung
        return [(p, s, last[p]) for p in definition["points"] for s in definition["seeds"]]

    def jobs(self, study: str, definition: dict, topology) -> list[Job]:
        return [
            Job(
                "points",
                (POINTS_FILE.format(study=study),),
                {"study": study, "points": definition["points"], "seeds": definition["seeds"]},
                local=True,
            )
        ]

    def run_job(self, job, arguments, outputs, *, data_dir=None, threads=1):
        if job != "points":
            return super().run_job(job, arguments, outputs)
        write_points(outputs[0], arguments["study"], arguments["points"], arguments["seeds"])

    def section(self, name: str, study: dict, data: Data) -> Section:
        import matplotlib.pyplot as plt
        import pandas as pd
        import seaborn as sns

        from ..report import plots
        from ..report.text import pct

        sec = self.new_section(name, study)
        points = study["points"]
        keys = list(next(iter(points.values())).keys()) if points else []
        rows = ranking(points, data.metrics, study["seeds"], study["select_on"])
        sec.header = [
            "rank",
            "point",
            *keys,
            "trained to epoch",
            "seeds finished",
            f"validation accuracy % ({study['select_on']})",
            "test accuracy % (mean)",
            "95 % CI",
        ]
        sec.rows = [
            [
                r["rank"],
                r["point"],
                *[r[k] for k in keys],
                r["epochs"],
                f"{r['finished']}/{r['runs']}",
                pct(r["val_mean"]),
                pct(r["test_mean"]),
                "" if math.isnan(r["test_low"]) else f"{pct(r['test_low'])}–{pct(r['test_high'])}",
            ]
            for r in rows[:10]
        ]
        done = [r for r in rows if r["finished"]]
        if done:
            top = done[0]
            ci = "" if math.isnan(top["test_low"]) else f", 95 % CI {pct(top['test_low'])}–{pct(top['test_high'])} %"
            sec.findings.append(
                f"Chosen on validation: {top['point']} ({', '.join(f'{k} = {top[k]}' for k in keys)}) "
                f"with {pct(top['val_mean'])} % validation accuracy; its test accuracy "
                f"{pct(top['test_mean'])} %{ci} (the test set took no part in the choice; the "
                "winner's validation score is biased upwards)."
            )
        sec.findings.append(
            f"{len(points)} points × {len(study['seeds'])} seeds; the table shows the top "
            f"{min(10, len(rows))}; sweep.csv lists every point."
        )
        if study.get("halving"):
            rungs = study["halving"]["rungs"]
            stopped = {e: sum(1 for r in rows if r["epochs"] == e) for e in rungs}
            sec.findings.append(
                f"Successive halving at epochs {rungs}, keeping {study['halving']['keep']:g} of the points at each "
                "rung (on validation): "
                + ", ".join(f"{n} stopped at epoch {e}" for e, n in stopped.items() if n)
                + ". Points compared at a rung have trained the same number of epochs; the ranking above mixes "
                "rungs, so it favours the points that went on."
            )
        # Winner and runner-up must have trained alike: under halving, among the points of the last rung.
        final = [r for r in done if r["epochs"] == max(x["epochs"] for x in done)] if done else []
        sec.verdict = decide(
            (final[0]["point"], final[0]["test"]) if final else ("-", []),
            (final[1]["point"], final[1]["test"]) if len(final) > 1 else None,
            margin=study["margin_pp"] / 100,
            alpha=study["alpha"],
            min_seeds=study["min_seeds"],
            power=study["power"],
        )
        sec.thresholds = thresholds(study, self.verdict_keys)

        df = pd.DataFrame(
            [{**{k: r["values"][k] for k in keys}, "validation accuracy %": 100 * r["val_mean"]} for r in done]
        )
        fig, axes = plt.subplots(1, max(1, len(keys)), figsize=(4.2 * max(1, len(keys)), 3.8), squeeze=False)
        for ax, key in zip(axes[0], keys):
            col = df[key] if len(df) else []
            numeric = len(df) and all(isinstance(x, int | float) and not isinstance(x, bool) for x in col)
            if numeric:
                ax.scatter(col, df["validation accuracy %"], color="C0", alpha=0.8)
                if _log_spaced(col):
                    ax.set_xscale("log")
            elif len(df):
                labels = df[key].map(_fmt)
                sns.stripplot(x=labels, y=df["validation accuracy %"], ax=ax, color="C0", jitter=False)
            ax.set(xlabel=key, ylabel="validation accuracy %")
        fig.suptitle("Each swept setting against validation accuracy (one point per sweep point, mean over seeds)")
        self.figure(sec, name, "effects", fig, data)

        grid_keys = list((study.get("grid") or {}).keys())
        pairs = [(a, b) for i, a in enumerate(grid_keys) for b in grid_keys[i + 1 :]]
        fig, axes = plt.subplots(1, max(1, len(pairs)), figsize=(5 * max(1, len(pairs)), 4.2), squeeze=False)
        for ax, (a, b) in zip(axes[0], pairs):
            if len(df):
                # categories in the grid's own order (numbers in numeric order, not as text)
                cats = {k: [_fmt(x) for x in study["grid"][k]] for k in (a, b)}
                frame = df.assign(
                    **{k: pd.Categorical(df[k].map(_fmt), categories=cats[k], ordered=True) for k in (a, b)}
                )
                table = frame.pivot_table(
                    index=a, columns=b, values="validation accuracy %", aggfunc="mean", observed=False
                )
                sns.heatmap(table, annot=True, fmt=".1f", cmap="viridis", ax=ax, cbar=False)
            ax.set(title=f"{a} × {b}")
        if not pairs:
            axes[0][0].text(0.5, 0.5, "fewer than two grid axes: no pair to map", ha="center", va="center")
            axes[0][0].axis("off")
        self.figure(sec, name, "heatmaps", fig, data)

        top5 = [r["point"] for r in done[:5]]
        h = data.hist[data.hist["topology"].isin(top5) & data.hist["seed"].isin(study["seeds"])].copy()
        fig, ax = plt.subplots(figsize=(8, 4.3))
        what = "mean over seeds, 95 % band"
        if len(h):
            h["validation accuracy %"] = 100 * h["val_accuracy"]
            what = plots.by_epoch(ax, h, "validation accuracy %", top5)
            ax.legend(fontsize="xx-small", loc="lower right")
        ax.set(title=f"Validation accuracy of the five best points ({what})")
        self.figure(sec, name, "curves", fig, data)
        return sec


def select(runs: dict, keep: float, select_on: str) -> tuple[list[str], dict]:
    """Successive halving's choice at a rung: the best ``keep`` share of the points on validation.

    ``runs``: point -> list of (model.json, history records) of its seeds.  A
    point's score is its mean validation accuracy over seeds (best epoch so far,
    or the last epoch); a point with a diverged seed scores -inf.  At least one
    point goes on; ties go to the name that sorts first.
    """
    scores = {}
    for point, seeds in runs.items():
        vals = []
        for meta, records in seeds:
            acc = [r["val_accuracy"] for r in records if r.get("val_accuracy") is not None]
            if meta["status"] != "ok" or not acc:
                vals = [-math.inf]
                break
            vals.append(max(acc) if select_on == "best_epoch" else acc[-1])
        scores[point] = float(np.mean(vals)) if vals else -math.inf
    n_keep = max(1, math.ceil(keep * len(scores) - 1e-9))
    order = sorted(scores, key=lambda p: (-scores[p], p))
    return [p for p in order[:n_keep] if math.isfinite(scores[p])] or order[:1], scores


def halving_select(models, keep: float, select_on: str, epoch: int, out) -> dict:
    """Successive halving's pick at a rung: score every point's runs (``model.json`` with ``history.csv``
    beside it) and write the ones that go on, with the scores, to ``out``."""
    from pathlib import Path

    from ..atomic import write_json
    from ..nn import History

    runs: dict = {}
    for path in map(Path, models):
        meta = json.loads(path.read_text(encoding="utf-8"))
        records = History.from_csv((path.parent / "history.csv").read_text(encoding="utf-8")).records
        runs.setdefault(path.parent.parent.name, []).append((meta, records))
    selected, scores = select(runs, keep, select_on)
    pick = {"epoch": epoch, "keep": keep, "select_on": select_on, "scores": scores, "selected": selected}
    write_json(out, pick)
    log.info("epoch %d: %d of %d points go on: %s", epoch, len(selected), len(runs), ", ".join(selected))
    return pick


def write_points(path, study: str, points: dict, seeds) -> None:
    """``sweep.csv``: one row per point, its values and its runs."""
    import csv
    import io

    from ..atomic import write_text

    keys = sorted({k for p in points.values() for k in p})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["point", *keys, "seeds"])
    for name, p in points.items():
        w.writerow(
            [
                name,
                *[json.dumps(p[k]) if isinstance(p.get(k), list | dict) else p.get(k, "") for k in keys],
                " ".join(map(str, seeds)),
            ]
        )
    write_text(path, buf.getvalue())
    log.info("%s: %d points × %d seeds written to %s", study, len(points), len(seeds), path)


KIND = Sweep()

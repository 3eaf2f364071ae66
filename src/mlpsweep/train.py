"""The training job: one or more (topology, seed) runs of one shape, from preprocessed data to models
(:func:`run`); several runs train together as a stack, each ending exactly as alone.

Writes into each run's output folder

``history.csv``  one row per epoch (costs, accuracies, gradient norms, seconds);
``model.npz``    the parameters (no pickle; :mod:`mlpsweep.nn.io`);
``model.json``   what the run was: settings, seed, sizes, status (``ok`` or
                 ``diverged`` with the epoch and last finite cost), the
                 dataset's checksums, versions and BLAS threads.

``model.json`` is written last, each file atomically.  The seed creates the
run's one ``numpy.random.Generator``: it draws the initial weights, then
every epoch's shuffle and dropout mask, so a (settings, seed, data) triple
gives the same numbers bit for bit on the same machine.

A job imports NumPy, threadpoolctl and the training core, not pandas, matplotlib or SciPy: it starts fast.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from . import arithmetic
from .atomic import write_json, write_text
from .data import preprocess
from . import estimate
from .nn import Diverged, Network, Settings, save_network, train_stack
from .nn.checkpoint import Checkpointer, run_key
from .nn.monitoring import monitored_rows
from .nn.sgd import check_stackable, gradient_norms
from .provenance import blas, versions
from .settings import resolve as resolve_settings

log = logging.getLogger("mlpsweep.train")


def build_network(settings: Settings, features: int, classes: int, rng: np.random.Generator, mode=None) -> Network:
    """A run's network, its initial weights drawn from ``rng``, computing in arithmetic ``mode`` (default: the
    process's, :func:`mlpsweep.arithmetic.current`)."""
    sizes = [features, *settings.hidden, classes]
    return Network.from_config(sizes, settings.to_dict(), rng=rng, arithmetic=mode or arithmetic.current())


def _pct(x) -> str:
    return "   -   " if x is None else f"{100 * x:6.2f} %"


@dataclass(frozen=True)
class Run:
    """One run of a training job: its name (the topology's), seed, settings (resolved, or a dict to resolve)
    and output folder."""

    name: str | None
    seed: int
    settings: Settings | dict
    out_dir: str


def run_one(data_dir, settings: dict, seed: int, out_dir, *, name: str | None = None, **options) -> dict:
    """:func:`run` of a job of one run; returns its ``model.json`` content."""
    return run(data_dir, [Run(name, seed, settings, str(out_dir))], **options)[0]


def run(
    data_dir,
    runs: list[Run],
    *,
    name: str | None = None,
    threads: int = 1,
    fail_on_divergence: bool = False,
    checkpoint_dir=None,
    checkpoint_every: int = 1,
    keep_checkpoints: bool = False,
    track_gradients: bool = False,
    stop_at_epoch: int | None = None,
    monitor_rows: int | None = None,
    test_by_need: bool = False,
    engine: str | None = None,
    max_mem_mb: float | None = None,
    max_minutes: float | None = None,
    callbacks=(),
) -> list[dict]:
    """Train ``runs`` in one process, as a stack (one run is a stack of one); write each run's outputs.

    The runs must share layer sizes, activation, output layer, cost, dtype,
    batch size and epochs (:func:`mlpsweep.nn.sgd.check_stackable`); each ends
    with the weights and history it has when trained alone.  With
    ``checkpoint_dir`` the job's state is saved every ``checkpoint_every``
    epochs, and a rerun of the *same* job (same runs, settings, seeds and data)
    resumes from it, ending bit-identical to an uninterrupted job.
    ``stop_at_epoch`` ends training early and keeps the checkpoint (a rung of
    successive halving); ``track_gradients`` records per-layer bias-gradient
    norms; ``callbacks`` are extra per-epoch hooks ``f(records, state)``.
    ``monitor_rows`` and ``test_by_need`` choose what is evaluated after each
    epoch (:func:`mlpsweep.nn.train_stack`; by default everything, every
    epoch; the workflow passes the config's ``training.monitor_rows`` and
    ``training.test_every_epoch``); they change the history, never the weights.
    ``max_mem_mb`` (default: this machine's memory) is the memory the job may
    take by its estimate; beyond it the job is refused before allocating;
    ``max_minutes`` (default: no limit) likewise bounds its estimated run time.
    Returns each run's ``model.json`` content.
    """
    started = time.perf_counter()
    _check_job(runs, threads)
    _check_folders(runs, checkpoint_dir)
    arithmetic.check_subnormals()  # again now that every library is loaded: one may have set FTZ/DAZ
    job = _Job(runs, name)
    with threadpool_limits(limits=threads):
        data = preprocess.load(data_dir)
        job.check_resources(data, monitor_rows, test_by_need, max_mem_mb, max_minutes)
        nets, rngs = job.build(data)
        trained, keep_checkpoints = job.schedule(stop_at_epoch, keep_checkpoints)
        initial_norms = [
            gradient_norms(net, data.x_train, data.y_train, cfg.batch_size) if track_gradients else None
            for net, cfg in zip(nets, trained)
        ]
        job.log_start(nets, trained, data, threads)
        hooks = ([job.stop_on_divergence] if fail_on_divergence else []) + [job.progress]
        ckpt, resume = None, {}
        if checkpoint_dir is not None:
            ckpt = job.checkpointer(checkpoint_dir, checkpoint_every, data, nets, (monitor_rows, test_by_need))
            resume = job.resume(ckpt, nets, rngs)
            hooks.append(ckpt)
        hooks.extend(callbacks)
        results = train_stack(
            nets,
            data.x_train,
            data.y_train,
            trained,
            rngs,
            callback=lambda records, state: [hook(records, state) for hook in hooks],
            track_gradients=track_gradients,
            monitor_rows=monitor_rows,
            test_by_need=test_by_need,
            engine=engine,
            **_held_out(data),
            **resume,
        )
        ran_on = _ran_on(data, monitor_rows, test_by_need)
    context = dict(
        data=data,
        started=started,
        threads=threads,
        ran_on=ran_on,
        resumed_from_epoch=resume.get("start_epoch"),
        stopped_at_epoch=stop_at_epoch,
    )
    metas = [job.finish(i, nets[i], results[i], initial_norms[i], **context) for i in range(len(runs))]
    if ckpt is not None and not keep_checkpoints:
        ckpt.remove_all()
    return metas


def _check_job(runs: list[Run], threads) -> None:
    """Refuse, before anything is read, a job without runs, with fewer than one thread, or whose runs share a
    folder."""
    if not runs:
        raise ValueError("a training job needs at least one run")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"--threads must be a whole number of at least 1, got {threads!r}")
    seen: dict = {}
    for i, r in enumerate(runs):
        where = Path(r.out_dir).resolve()
        if where in seen:
            raise ValueError(
                f"--runs[{i}] writes into the same out_dir as --runs[{seen[where]}] ({r.out_dir}); "
                "give each run its own folder"
            )
        seen[where] = i


def _check_folders(runs: list[Run], checkpoint_dir) -> None:
    """Refuse, before anything is read or written, an output or checkpoint folder that is a file, and a
    checkpoint folder that is a run's output folder or holds a run's outputs (its cleanup would sit among
    files it did not write)."""
    named = [(f"--runs[{i}].out_dir" if len(runs) > 1 else "--out-dir", r.out_dir) for i, r in enumerate(runs)]
    for what, folder in named + [("--checkpoint-dir", checkpoint_dir)] * (checkpoint_dir is not None):
        if Path(folder).exists() and not Path(folder).is_dir():
            raise ValueError(f"{what} {folder} is a file; give a folder")
    if checkpoint_dir is None:
        return
    where = Path(checkpoint_dir).resolve()
    for what, folder in named:
        if Path(folder).resolve() == where:
            raise ValueError(f"--checkpoint-dir {checkpoint_dir} is {what}; give the checkpoints a folder of their own")
    if (where / "model.json").exists() or (where / "model.npz").exists():
        raise ValueError(
            f"--checkpoint-dir {checkpoint_dir} holds a run's model; give the checkpoints a folder of their own"
        )
    try:  # a folder it can write in, found now rather than after the first epoch
        where.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=where).close()
    except OSError as exc:
        raise ValueError(f"--checkpoint-dir {checkpoint_dir}: cannot write there ({exc.strerror})") from None


class _Job:
    """The runs of one training job, their resolved settings and names, and its phases (:func:`run`)."""

    def __init__(self, runs: list[Run], name: str | None):
        self.runs, self.many = runs, len(runs) > 1
        # settings resolved already (a Settings object) are used as they are; a dict is checked here, once
        self.settings = [
            r.settings
            if isinstance(r.settings, Settings)
            else resolve_settings(r.settings, prefix=f"runs[{i}].settings" if self.many else "")
            for i, r in enumerate(runs)
        ]
        self.names = [r.name or (f"run{i}" if self.many else "network") for i, r in enumerate(runs)]
        for i, st in enumerate(self.settings):
            problem = arithmetic.dtype_problem(st.dtype)
            if problem:
                raise ValueError(f"{f'runs[{i}].settings' if self.many else 'settings'} key dtype: {problem}")
        self.name = name
        self.label = name or ("stack" if self.many else self.names[0])
        self.epochs = self.settings[0].epochs

    def check_resources(self, data, monitor_rows, test_by_need, max_mem_mb, max_minutes) -> None:
        """Before anything is allocated: a job that cannot fit in memory, or would run longer than allowed, is
        refused in one line."""
        work = estimate.Work.of(
            self.settings[0],
            features=data.features,
            classes=data.classes,
            rows=data.x_train.shape[0],
            held_out_rows=len(data.y_val) + len(data.y_test),
            runs=len(self.runs),
            monitor_rows=monitor_rows,
            test_by_need=test_by_need,
            mode=arithmetic.current(),
        )
        estimate.check(work, estimate.machine_mb() if max_mem_mb is None else max_mem_mb, self.label)
        estimate.check_time(work, max_minutes, self.label)

    def build(self, data) -> tuple[list[Network], list[np.random.Generator]]:
        """Each run's generator (from its seed) and network (its initial weights drawn from it); they must stack."""
        rngs = [np.random.default_rng(r.seed) for r in self.runs]
        mode = arithmetic.current()
        nets = [build_network(st, data.features, data.classes, rng, mode) for st, rng in zip(self.settings, rngs)]
        check_stackable(nets, self.settings, self.names)
        return nets, rngs

    def schedule(self, stop_at_epoch: int | None, keep_checkpoints: bool) -> tuple[list[Settings], bool]:
        """The settings as trained and whether the checkpoint stays: a rung of successive halving ends early at
        ``stop_at_epoch`` (the schedule is the run's; only the end moves) and keeps it for the next rung."""
        if stop_at_epoch is None:
            return self.settings, keep_checkpoints
        if not 1 <= stop_at_epoch <= self.epochs:
            raise ValueError(
                f"--stop-at-epoch must be between 1 and the run's {self.epochs} epochs, got {stop_at_epoch}"
            )
        self.epochs = stop_at_epoch
        return [st.replace(epochs=stop_at_epoch) for st in self.settings], keep_checkpoints or stop_at_epoch < (
            self.settings[0].epochs
        )

    def log_start(self, nets, trained, data, threads) -> None:
        st0 = self.settings[0]
        if self.many:
            what = (
                ", ".join(
                    f"{n} seed {r.seed} eta {c.eta:g} {c.rule['name']}"
                    for n, r, c in zip(self.names, self.runs, trained)
                )
                + f" ({len(self.runs)} runs stacked)"
            )
        else:
            what = f"seed {self.runs[0].seed}, eta {trained[0].eta:g}, optimizer {trained[0].rule['name']}"
        log.info(
            "training %s: %s, sizes %s, %s/%s/%s, init %s, K %d, %d epochs, %s, %d BLAS thread(s)",
            self.label,
            what,
            nets[0].sizes,
            st0.activation,
            st0.output,
            st0.cost,
            st0.init,
            min(st0.batch_size, data.x_train.shape[0]),
            self.epochs,
            st0.dtype,
            threads,
        )

    def progress(self, records, state) -> None:
        """Log an epoch: a run's costs and accuracies, or every run's validation accuracy in a stack."""
        live = [(f"{n}#{r.seed}", rec) for n, r, rec in zip(self.names, self.runs, records) if rec is not None]
        if not live:
            return
        rec = live[0][1]
        if not self.many:
            log.info(
                "epoch %d/%d  train cost %.5f  train %s  val %s  test %s  (%.2f s + %.2f s evaluation)",
                rec["epoch"],
                self.epochs,
                rec["train_cost"],
                _pct(rec["train_accuracy"]),
                _pct(rec["val_accuracy"]),
                _pct(rec["test_accuracy"]),
                rec["seconds"],
                rec["eval_seconds"],
            )
            return
        log.info(
            "epoch %d/%d  %.2f s + %.2f s evaluation per run  val %s",
            state.epoch,
            self.epochs,
            rec["seconds"],
            sum(r["eval_seconds"] for _, r in live) / len(live),
            "  ".join(f"{tag} {_pct(r['val_accuracy']).strip()}" for tag, r in live),
        )

    def stop_on_divergence(self, records, state) -> None:
        """Fail the job at the epoch one of its runs diverged (``--fail-on-divergence``)."""
        for i, gone in enumerate(state.diverged):
            if gone is not None:
                exc = Diverged(gone[0], gone[1], state.histories[i])
                if self.many:
                    exc.args = (f"{self.names[i]} seed {self.runs[i].seed}: {exc}",)  # which run of the stack
                raise exc

    def checkpointer(self, folder, every: int, data, nets, monitoring) -> Checkpointer:
        keys = [_run_key(st, r.seed, data, net, monitoring) for st, r, net in zip(self.settings, self.runs, nets)]
        return Checkpointer(folder, run_key(stack=keys) if self.many else keys[0], every)

    def resume(self, ckpt: Checkpointer, nets, rngs) -> dict:
        """Restore the job's last checkpoint into ``nets`` and ``rngs``; what :func:`train_stack` resumes from."""
        saved = ckpt.load(len(self.runs))
        if saved is None:
            return {}
        params, rule_states, epoch, histories, rng_states, diverged, best = saved
        for net, p, rng, st in zip(nets, params, rngs, rng_states):
            net.params[...] = p
            rng.bit_generator.state = st
        log.info("resuming %s from the checkpoint after epoch %d (%s)", self.label, epoch, ckpt.path)
        return {
            "start_epoch": epoch,
            "histories": histories,
            "rule_states": rule_states,
            "diverged": diverged,
            "best": best,
        }

    def finish(self, i: int, net, result, initial_norms, **context) -> dict:
        """Write run ``i``'s files (its model.json last) and return its model.json content."""
        r = self.runs[i]
        who = f"{self.names[i]} seed {r.seed}" if self.many else self.names[i]
        if isinstance(result, Diverged):
            log.warning("%s: %s; recorded as diverged (training.fail_on_divergence is false)", who, result)
            history, status = result.history, _diverged_status(result)
        else:
            history, status = result, {"status": "ok"}
        meta = _meta(
            r.name, r.seed, self.settings[i], net, status, history, gradient_norms_at_init=initial_norms, **context
        )
        counts = [rec.get("exact_fallbacks") for rec in history.records]
        # exact arithmetic: the elements recomputed exactly in this run's steps (history.csv has them per epoch)
        meta["exact_fallbacks"] = None if not counts or None in counts else int(sum(counts))
        if self.many:
            meta["seconds"]["job_total"] = meta["seconds"]["total"]
            meta["seconds"]["total"] /= len(self.runs)  # this run's share of the job
            meta["stack"] = {
                "name": self.name,
                "index": i,
                "runs": [{"name": n, "seed": q.seed} for n, q in zip(self.names, self.runs)],
            }
        _write_outputs(r.out_dir, net, history, meta)
        _log_done(who, status, history, meta)
        return meta


def _ran_on(data, monitor_rows, test_by_need) -> dict:
    """What the job ran on, once for all its runs, and what it monitored."""
    rows = monitored_rows(data.x_train.shape[0], monitor_rows)
    return {
        "blas": blas(),
        "arithmetic": arithmetic.describe(),
        "monitoring": {
            "train_rows": data.x_train.shape[0] if rows is None else len(rows),
            "train_rows_sampled": rows is not None,
            "test": "by need (the best-validation epoch's weights and the last epoch's)"
            if test_by_need
            else "every epoch",
        },
    }


def _held_out(data) -> dict:
    """The monitoring sets; their images are streamed, so only the training split stays resident."""
    return {
        "validation": (data.streamed("validation"), np.asarray(data.y_val)),
        "test": (data.streamed("test"), np.asarray(data.y_test)),
    }


def _run_key(settings, seed, data, net, monitoring) -> str:
    """What a run's checkpoint must match to be resumed: its settings, seed, data files, layer sizes and what
    its history records."""
    return run_key(
        settings=settings.to_dict(),
        seed=seed,
        data=data.manifest["files"],
        sizes=net.sizes,
        monitoring=list(monitoring),
    )


def _log_done(name, status, history, meta) -> None:
    last = history[-1] if len(history) else {}
    log.info(
        "done%s: %s, final test accuracy %s, %.1f s in all",
        f" {name}" if name else "",
        status["status"],
        _pct(last.get("test_accuracy")),
        meta["seconds"]["total"],
    )


def _meta(
    name,
    seed,
    settings,
    net,
    status,
    history,
    data,
    started,
    threads,
    ran_on,
    *,
    resumed_from_epoch=None,
    stopped_at_epoch=None,
    gradient_norms_at_init=None,
) -> dict:
    """``model.json`` of a finished run (what it was, how it ended, on which data)."""
    return {
        "name": name,
        "seed": seed,
        "settings": settings.to_dict(),
        "sizes": net.sizes,
        "n_params": net.n_params,
        "n_weights": net.n_weights,
        **status,
        "epochs_completed": len(history),
        "resumed_from_epoch": resumed_from_epoch,
        "stopped_at_epoch": stopped_at_epoch,
        "gradient_norms_at_init": gradient_norms_at_init,
        "dataset": {
            "name": data.name,
            "files": data.manifest["files"],
            "splits": data.manifest["splits"],
        },
        "seconds": {
            "sgd": sum(history.column("seconds")),
            "evaluation": sum(history.column("eval_seconds")),
            "total": time.perf_counter() - started,
        },
        "threads": threads,
        **ran_on,
        "versions": versions("threadpoolctl"),
    }


def _write_outputs(out_dir: Path, net: Network, history, meta: dict) -> None:
    """history.csv, model.npz, then model.json (last: its presence means the run is complete)."""
    out_dir = Path(out_dir)
    write_text(out_dir / "history.csv", history.to_csv() if len(history) else "epoch\n")
    save_network(
        net, out_dir / "model.npz", extra={"run": {k: meta[k] for k in ("name", "seed", "settings", "status")}}
    )
    write_json(out_dir / "model.json", meta)


def _diverged_status(exc: Diverged) -> dict:
    return {"status": "diverged", "diverged_epoch": exc.epoch, "last_finite_cost": exc.last_finite_cost}

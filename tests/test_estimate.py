"""Memory and time from the work: the formula's sense, the planner's and the train command's refusals, and
resources that differ by job."""

import subprocess
import sys

import pytest
from workflow_helpers import REPO

from mlpsweep import estimate
from mlpsweep.config import ConfigError
from mlpsweep.plan import plan

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def work(**kw):
    base = dict(sizes=(784, 30, 10), runs=1, rows=50_000, epochs=30, batch_size=10, itemsize=4, monitor_rows=10_000)
    return estimate.Work(**{**base, **kw})


def test_memory_follows_the_data_the_layers_and_the_runs():
    small = estimate.memory_mb(work())
    assert 200 < small < 350  # the float32 training split (157 MB) and a small network
    assert estimate.memory_mb(work(runs=3)) > small
    assert estimate.memory_mb(work(sizes=(784, 800, 10))) > estimate.memory_mb(work(runs=3))
    assert estimate.memory_mb(work(itemsize=8)) > small
    assert estimate.memory_mb(work(monitor_rows=None)) == small  # the sample is gathered chunk by chunk, not copied
    huge = estimate.memory_mb(work(sizes=(784, 10_000_000, 10)))
    assert huge > 100_000  # 7.9·10⁹ parameters


def test_time_follows_epochs_runs_batch_size_and_width():
    t = estimate.seconds(work())
    assert 2 < t < 60
    assert estimate.seconds(work(epochs=60)) > 1.9 * (t - estimate.START_S)
    assert estimate.seconds(work(batch_size=1)) > 3 * estimate.seconds(work(batch_size=10))  # per-step costs
    assert estimate.seconds(work(batch_size=128)) < t
    assert estimate.seconds(work(sizes=(784, 800, 10))) > 10 * t / 2
    mem, minutes = estimate.request(work())
    assert mem >= estimate.memory_mb(work()) and minutes >= 1


def test_exact_arithmetic_asks_for_its_measured_time_and_its_float64_buffers():
    """The time constants were measured native; an exact job's training and monitoring take EXACT_TIME_FACTOR
    times as long (a cluster job asked for native's time would be killed), and its float64 copies need memory."""
    native, exact = work(), work(exact=True)
    assert estimate.seconds(exact) - estimate.START_S == pytest.approx(
        estimate.EXACT_TIME_FACTOR * (estimate.seconds(native) - estimate.START_S)
    )
    assert 0 < estimate.memory_mb(exact) - estimate.memory_mb(native) < 5  # [W; |W|] in float64 and a step's buffers
    config = {
        "seeds": [1],
        "studies": ["depth"],
        "study_definitions": {"depth": {"topologies": ["30"]}},
        "topologies": {"30": {"hidden": [800]}},  # long enough to ask for more than the shortest time limit
    }
    modes = {m: plan({**config, "reproducibility": m}, SCHEMA) for m in ("native", "exact")}
    (n_minutes, e_minutes) = (p.train_resources("mnist", [("30", 1)])["runtime"] for p in modes.values())
    assert e_minutes > 3 * n_minutes
    float64 = plan({**config, "reproducibility": "native", "defaults": {"dtype": "float64"}}, SCHEMA)
    assert not float64.work("mnist", [("30", 1)]).exact  # exact applies to float32 networks only


def test_the_planner_asks_for_what_each_job_needs_and_refuses_what_cannot_fit():
    config = {
        "studies": ["depth", "big"],
        "seeds": [1, 2, 3],
        "study_definitions": {"depth": {"topologies": ["30"]}, "big": {"kind": "compare", "topologies": ["800"]}},
        "topologies": {"30": {"hidden": [30]}, "800": {"hidden": [800], "batch_size": 1, "epochs": 40}},
    }
    p = plan(config, SCHEMA)
    stack_30 = next(s for s in p.stacks() if s.runs[0][0] == "30")
    small, big = p.train_resources("mnist", stack_30.runs), p.train_resources("mnist", [("800", 1)])
    assert small["mem_mb"] < big["mem_mb"] and small["runtime"] < big["runtime"]
    plan({**config, "resources": {"max_mem_mb": 2000}}, SCHEMA).check_resources()  # fits in 2 GB, whatever the host
    fixed = plan({**config, "resources": {"train": {"mem_mb": 1500, "runtime": 60}}}, SCHEMA)
    assert fixed.train_resources("mnist", stack_30.runs) == {"mem_mb": 1500, "runtime": 60 * len(stack_30.runs)}
    huge = plan(
        {
            **config,
            "topologies": {**config["topologies"], "800": {"hidden": [10_000_000]}},
            "resources": {"max_mem_mb": 64_000},
        },
        SCHEMA,
    )
    with pytest.raises(ConfigError) as info:
        huge.check_resources()
    text = str(info.value)
    assert "\n" not in text and "'800'" in text and "needs about" in text and "MB available" in text
    capped = plan({**config, "resources": {"max_mem_mb": 200}}, SCHEMA)  # below even the [784,30,10] job
    with pytest.raises(ConfigError, match="topology '30' \\(the stacked job 30.seed1"):
        capped.check_resources()


@pytest.mark.slow
def test_the_train_command_refuses_a_network_beyond_memory_before_allocating(tmp_path):
    from datagen import preprocessed

    data_dir = preprocessed(tmp_path, n_train=200, n_test=50, validation_size=50, seed=2)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlpsweep",
            "-q",
            "train",
            "--data",
            str(data_dir),
            "--settings",
            '{"hidden": [1000000], "epochs": 1}',
            "--seed",
            "1",
            "--out-dir",
            str(tmp_path / "m"),
            "--max-mem-mb",
            "1000",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs about" in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "m").exists()


def test_the_estimate_uses_the_batch_size_training_uses():
    """Training caps K at the training rows: a batch of 10⁷ on 50,000 rows needs what a batch of 50,000 does."""
    from mlpsweep.settings import resolve

    capped = estimate.Work.of(
        resolve({"batch_size": 10_000_000}), features=784, classes=10, rows=50_000, held_out_rows=20_000
    )
    full = estimate.Work.of(
        resolve({"batch_size": 50_000}), features=784, classes=10, rows=50_000, held_out_rows=20_000
    )
    assert capped == full and capped.batch_size == 50_000
    assert estimate.memory_mb(capped) < 1000


def test_the_planner_refuses_a_job_beyond_the_declared_run_time():
    config = {"seeds": [1], "defaults": {"epochs": 1_000_000_000_000}, "resources": {"max_mem_mb": 2000}}
    with pytest.raises(ConfigError) as info:
        plan(config, SCHEMA).check_resources()
    text = str(info.value)
    assert "\n" not in text and "minutes allowed (resources.max_runtime)" in text and "'30'" in text
    short = {"seeds": [1], "defaults": {"epochs": 300}, "resources": {"max_mem_mb": 2000, "max_runtime": 1}}
    with pytest.raises(ConfigError, match="resources.max_runtime"):
        plan(short, SCHEMA).check_resources()
    plan({**short, "resources": {"max_mem_mb": 2000, "max_runtime": 600}}, SCHEMA).check_resources()

"""The workflow end to end: snakemake on a small dataset served by a loopback mirror."""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import test_golden as golden
from workflow_helpers import REPO, job_counts, planned_jobs, planned_trainings, snakemake, trained_runs, write_config

pytestmark = pytest.mark.slow


def small_config(mirror_url, definition, **over):
    config = {
        "datasets": ["tiny"],
        "seeds": [1, 2],
        "studies": ["small"],
        "study_definitions": {"small": {"topologies": ["a", "b"]}},
        "defaults": {"epochs": 2, "eta": 3.0, "batch_size": 10},
        "topologies": {"a": {"hidden": [8]}, "b": {"hidden": [8, 6]}},
        "data": {"validation_size": 50},
        "download": {"timeout": 5, "retries": 0, "backoff": 0},
        "dataset_definitions": {"tiny": {**definition, "sources": [mirror_url + "/tiny/"]}},
    }
    config.update(over)
    return config


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from conftest import serve_dataset

    mirror, definition = serve_dataset(tmp_path_factory.mktemp("upstream"), n_train=300, n_test=100, seed=1)
    yield mirror, definition
    mirror.close()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, served):
    mirror, definition = served
    work = tmp_path_factory.mktemp("run")
    write_config(work, small_config(mirror.url, definition))
    proc = snakemake(work, "--cores", "2")
    return work, proc


def copy_of(finished_run, tmp_path):
    """A copy of the finished run's folder (results and Snakemake's records) to change and re-plan."""
    copy = tmp_path / "copy"
    shutil.copytree(finished_run[0], copy, symlinks=True)
    return copy


def test_end_to_end_outputs(finished_run):
    work, _ = finished_run
    for topo in ("a", "b"):
        for seed in (1, 2):
            for f in ("model.npz", "model.json", "history.csv"):
                assert (work / f"results/tiny/models/{topo}/seed{seed}/{f}").stat().st_size > 0
            for f in ("metrics.json", "predictions.npy"):
                assert (work / f"results/tiny/eval/{topo}/seed{seed}/{f}").stat().st_size > 0
            meta = json.loads((work / f"results/tiny/models/{topo}/seed{seed}/model.json").read_text())
            # runs_per_job: auto trains the two seeds of a topology as one stack, named after the study
            stack = {"a": "a.seed1+1", "b": "b.seed1+1"}[topo]  # a stack is named after its first run
            assert meta["stack"]["name"] == stack and meta["stack"]["runs"] == [
                {"name": topo, "seed": 1},
                {"name": topo, "seed": 2},
            ]
            log = (work / f"logs/tiny/train/stacks/{stack}.log").read_text()
            assert "2 runs stacked" in log and "epoch 1/2" in log and "epoch 2/2" in log
            assert f"{topo}#{seed} " in log and f"done {topo} seed {seed}: ok" in log
            bench = pd.read_csv(work / f"results/tiny/benchmarks/train/stacks/{stack}.tsv", sep="\t")
            assert {"s", "max_rss"} <= set(bench.columns)
    assert (work / "logs/tiny/download.log").exists() and (work / "logs/tiny/preprocess.log").exists()
    table = pd.read_csv(work / "results/tiny/report/comparison.csv")
    assert (work / "logs/tiny/report.log").exists()
    assert table["topology"].tolist() == ["a", "b"]
    assert (table["seeds"] == 2).all() and table["test_accuracy_std"].notna().all()
    for _, row in table.iterrows():
        accs = [
            json.loads((work / f"results/tiny/eval/{row['topology']}/seed{s}/metrics.json").read_text())["test"][
                "accuracy"
            ]
            for s in (1, 2)
        ]
        assert row["test_accuracy_mean"] == pytest.approx(np.mean(accs))
        assert row["test_accuracy_std"] == pytest.approx(np.std(accs, ddof=1))
    md = (work / "results/tiny/report/report.md").read_text()
    summary_md = md[md.index("## Summary") : md.index("## Is the difference real?")]
    assert summary_md.count("\n| a |") == 1 and summary_md.count("\n| b |") == 1
    assert "## Study: small" in md
    for _, row in table.iterrows():  # the Markdown shows the CSV's numbers
        assert f"{100 * row['test_accuracy_mean']:.2f} ± {100 * row['test_accuracy_std']:.2f}" in md
    # Learns something in two epochs on 250 images: above twice the 10 % of chance.
    assert table["test_accuracy_mean"].min() > 0.2


def test_blas_threads_follow_the_rule_threads(finished_run):
    work, _ = finished_run
    meta = json.loads((work / "results/tiny/models/a/seed1/model.json").read_text())
    assert meta["threads"] == 1
    assert meta["blas"] and all(lib["num_threads"] == 1 for lib in meta["blas"])


def test_nothing_left_to_do_after_a_run(finished_run):
    work, _ = finished_run
    assert planned_jobs(work) == []


def test_changing_one_topology_reruns_only_its_jobs(finished_run, served, tmp_path):
    mirror, definition = served
    copy = copy_of(finished_run, tmp_path)
    cfg = small_config(mirror.url, definition)
    cfg["topologies"]["b"]["eta"] = 1.0
    write_config(copy, cfg)
    jobs = planned_jobs(copy)
    # b's stack (both seeds, one job) is trained again; a's is not
    assert job_counts(jobs) == {"train_stack_tiny_b_seed1_1": 1, "evaluate": 2, "report": 1, "all": 1}
    assert {w["topology"] for r, w in jobs if r == "evaluate"} == {"b"}


def test_adding_a_seed_trains_the_stack_it_joins_and_never_a_full_one(finished_run, served, tmp_path):
    mirror, definition = served
    copy = copy_of(finished_run, tmp_path)
    write_config(copy, small_config(mirror.url, definition, seeds=[1, 2, 3]))
    # auto cuts each topology's seeds into jobs of up to 3: seed 3 joins seeds 1 and 2, and their stack is
    # trained again (to the same numbers)
    assert planned_trainings(copy) == {
        "train_stack_tiny_a_seed1_2": [("a", 1), ("a", 2), ("a", 3)],
        "train_stack_tiny_b_seed1_2": [("b", 1), ("b", 2), ("b", 3)],
    }
    snakemake(copy, "--cores", "2")
    # after a finished run of seeds 1-3, seed 4 starts a job of its own: only the new runs, their evaluations
    # and the report are planned; the full stacks keep their names and parameters
    write_config(copy, small_config(mirror.url, definition, seeds=[1, 2, 3, 4]))
    trainings = planned_trainings(copy)
    assert list(trainings) == ["train"] and trained_runs(trainings) == [("a", 4), ("b", 4)]  # in any order
    jobs = planned_jobs(copy)
    assert job_counts(jobs) == {"train": 2, "evaluate": 2, "report": 1, "all": 1}
    assert {w["seed"] for r, w in jobs if r == "evaluate"} == {"4"}
    # a new topology likewise plans only its own runs
    cfg = small_config(mirror.url, definition, seeds=[1, 2, 3])
    cfg["topologies"]["c"] = {"hidden": [5]}
    cfg["study_definitions"]["small"]["topologies"] = ["c", "a", "b"]
    write_config(copy, cfg)
    assert planned_trainings(copy) == {"train_stack_tiny_c_seed1_2": [("c", 1), ("c", 2), ("c", 3)]}


def test_stacked_jobs_give_the_runs_of_one_run_per_job_bit_for_bit(finished_run, served, tmp_path):
    """The workflow's stacked jobs (auto) and one run per job: the same weights, histories and metrics."""
    work, _ = finished_run
    mirror, definition = served
    solo = tmp_path / "solo"
    write_config(solo, small_config(mirror.url, definition, training={"runs_per_job": 1}))
    assert set(planned_trainings(solo)) == {"train"}
    snakemake(solo, "--cores", "2")
    for topo in ("a", "b"):
        for seed in (1, 2):
            run = f"results/tiny/models/{topo}/seed{seed}"
            with np.load(work / run / "model.npz") as x, np.load(solo / run / "model.npz") as y:
                assert sorted(x.files) == sorted(y.files)
                for key in x.files:
                    assert x[key].tobytes() == y[key].tobytes(), (run, key)
            h1, h2 = (pd.read_csv(w / run / "history.csv") for w in (work, solo))
            keep = [c for c in h1.columns if "seconds" not in c]
            pd.testing.assert_frame_equal(h1[keep], h2[keep], check_exact=True)
            assert "stack" in json.loads((work / run / "model.json").read_text())
            assert "stack" not in json.loads((solo / run / "model.json").read_text())
            ev = f"results/tiny/eval/{topo}/seed{seed}"
            assert np.array_equal(np.load(work / ev / "predictions.npy"), np.load(solo / ev / "predictions.npy"))
    a, b = (pd.read_csv(w / "results/tiny/report/comparison.csv") for w in (work, solo))
    assert a["test_accuracy_mean"].tolist() == b["test_accuracy_mean"].tolist()
    # both equal the bytes recorded in tests/golden_hashes.json: the weights and predictions
    # (MLPSWEEP_RECORD_GOLDEN=1 records them for this arithmetic, from a revision whose results are the reference)
    want = golden.recorded("workflow") or None
    if want is None and os.environ.get("MLPSWEEP_RECORD_GOLDEN"):
        golden.record(golden.recorded(), golden.workflow_hashes(work, [(t, s) for t in "ab" for s in (1, 2)]))
        want = golden.recorded("workflow") or None
    if want is not None:
        pinned = ("model.npz", "predictions.npy")
        for w in (work, solo):
            got = golden.workflow_hashes(w, [(t, s) for t in "ab" for s in (1, 2)])
            assert {r: {f: h[f] for f in pinned} for r, h in got.items()} == {
                r: {f: h[f] for f in pinned} for r, h in want.items()
            }


def test_dry_run_of_the_default_config_needs_no_network(tmp_path):
    shutil.copytree(REPO / "config", tmp_path / "config")
    counts = job_counts(planned_jobs(tmp_path))
    # the lecture's 3 topologies × 5 seeds: per topology, seeds 1–3 in one stacked job and seeds 4–5 in another
    assert counts == {
        "download": 1,
        "preprocess": 1,
        "check_caches": 1,
        "evaluate": 15,
        "report": 1,
        "all": 1,
        **{f"train_stack_mnist_{t}_seed{s}_{n}": 1 for t in ("30", "30_30", "30_30_30") for s, n in ((1, 2), (4, 1))},
    }
    assert planned_trainings(tmp_path)["train_stack_mnist_30_seed4_1"] == [("30", 4), ("30", 5)]


def test_config_override_from_the_command_line(tmp_path):
    shutil.copytree(REPO / "config", tmp_path / "config")
    trainings = planned_trainings(tmp_path, "--config", "seeds=[1,2]", "defaults={epochs: 3}")
    assert len(trained_runs(trainings)) == 6 and {s for _, s in trained_runs(trainings)} == {1, 2}
    # a union type ([integer, string]) from the command line: one run per job
    trainings = planned_trainings(tmp_path, "--config", "training={runs_per_job: 1}")
    assert set(trainings) == {"train"} and len(trained_runs(trainings)) == 15


def test_invalid_config_fails_before_any_job(tmp_path):
    write_config(tmp_path, {"topologies": {"30": {"eta": -1}}})
    proc = snakemake(tmp_path, "--cores", "1", check=False)
    assert proc.returncode != 0
    assert "config key topologies.30.eta" in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists() and not (tmp_path / "resources").exists()


def test_unreachable_mirror_stops_at_download_with_the_offline_hint(tmp_path, served):
    _, definition = served
    cfg = small_config("http://127.0.0.1:9", definition)
    write_config(tmp_path, cfg)
    proc = snakemake(tmp_path, "--cores", "1", check=False)
    assert proc.returncode != 0
    log = (tmp_path / "logs/tiny/download.log").read_text()
    assert "To run offline, copy the files" in log
    assert not (tmp_path / "results").exists()


def test_lint_and_format_are_clean():
    lint = snakemake(REPO, "--lint", check=False)
    assert "Congratulations" in lint.stdout + lint.stderr, lint.stdout[-3000:]
    import subprocess
    import sys

    fmt = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow"], cwd=REPO, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stderr


def test_report_plots_html_and_pairwise(finished_run):
    from PIL import Image

    from mlpsweep.report import PLOTS

    work, _ = finished_run
    report = work / "results/tiny/report"
    for name, svg in PLOTS.items():
        png = report / "plots" / f"{name}.png"
        with Image.open(png) as im:
            im.verify()
        with Image.open(png) as im:
            assert im.size[0] > 200 and im.size[1] > 150, name
            assert len(np.unique(np.asarray(im.convert("RGB")).reshape(-1, 3), axis=0)) > 10, name  # drawn, not flat
        if svg:
            assert (report / "plots" / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    html = (report / "report.html").read_text()
    pngs = sorted((report / "plots").glob("*.png"))
    assert len(pngs) == len(PLOTS)  # the base figures (a compare study draws none of its own)
    assert html.count("data:image/png;base64,") == len(pngs)
    import base64

    for png in pngs:
        assert base64.b64encode(png.read_bytes()).decode()[:200] in html, png.name
    # Self-contained: nothing to fetch when the page is opened.
    assert 'src="http' not in html and "<link" not in html and "url(" not in html and "<script" not in html
    summary = html[html.index("<h2>Summary</h2>") : html.index("<h2>Is the difference real?</h2>")]
    assert summary.count("<tr") == 3  # header + one row per topology
    pairs = pd.read_csv(report / "pairwise.csv")
    assert len(pairs) == 1 and 0 <= pairs["mcnemar_p"][0] <= 1
    if min(pairs["trained_a"][0], pairs["trained_b"][0]) >= 2:  # Yuen's test needs two trained runs a side
        assert 0 <= pairs["p"][0] <= 1
    else:  # a tiny run may be stuck: the line says why there is no test, and prints no "nan"
        assert np.isnan(pairs["p"][0]) and "nan" not in pairs["sentence"][0]
    from html import unescape

    assert pairs["sentence"][0] in unescape(html)

    assert "The lecture's ranges are for MNIST" in unescape(html) and "Provenance" in html
    for f in json.loads((work / "results/tiny/data/manifest.json").read_text())["sources"].values():
        assert f["sha256"] in html


def test_snakemake_report_zip(finished_run, tmp_path):
    work, _ = finished_run
    snakemake(work, "--report", str(tmp_path / "report.zip"))
    import zipfile

    with zipfile.ZipFile(tmp_path / "report.zip") as z:
        names = z.namelist()
    assert any(n.endswith("report.html") for n in names)
    assert sum(n.endswith(".png") for n in names) >= 8


def test_report_renders_in_chromium(finished_run, tmp_path):
    from mlpsweep.report import screenshot

    if screenshot.browser() is None:
        pytest.skip("Debian's chromium is not installed")
    from PIL import Image, ImageStat

    work, _ = finished_run
    png = screenshot.render(work / "results/tiny/report/report.html", tmp_path / "page.png", 1200, 1600)
    with Image.open(png) as im:
        gray = im.convert("L")
        stat = ImageStat.Stat(gray)
        dark = sum(gray.histogram()[:128])
    assert stat.stddev[0] > 20  # not a blank page
    assert dark > 2000  # text and plot lines were drawn


def test_report_build_is_byte_reproducible_with_source_date_epoch(finished_run, tmp_path):
    """Two builds from the same results with the same SOURCE_DATE_EPOCH: identical bytes; without it, today."""
    import datetime

    work, _ = finished_run
    report = work / "results/tiny/report"
    outs = []
    for i in range(2):
        out = tmp_path / f"build{i}"
        shutil.copytree(work, out, symlinks=True)
        snakemake(out, "--cores", "1", "--forcerun", "report", env={"SOURCE_DATE_EPOCH": "1700000000"})
        outs.append(out / "results/tiny/report")
    for name in ("report.html", "report.md", "comparison.csv", "runs.csv", "pairwise.csv"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    assert "2023-11-14 22:13 UTC" in (outs[0] / "report.html").read_text()
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    assert today in (report / "report.html").read_text()


def test_one_seed_makes_every_verdict_inconclusive_and_says_why(finished_run, served, tmp_path):
    mirror, definition = served
    copy = copy_of(finished_run, tmp_path)
    write_config(copy, small_config(mirror.url, definition, seeds=[1]))
    snakemake(copy, "--cores", "2")
    html = (copy / "results/tiny/report/report.html").read_text()
    section = html[html.index('<h2 id="study-small">') :]
    assert re.search(r"<b>Verdict[^<]*\.</b> <span class=\"tag inconclusive\">Inconclusive</span>", section)
    # part 1 counts the runs that trained: 1, or 0 where a tiny run is stuck
    assert re.search(r"has [01] seeds? that trained on its smaller side", section) and "min_seeds" in section
    # the pairwise line with one seed says why it has no test (a tiny run may be stuck: then no run trained)
    assert re.search(r"too few runs for an interval or a test|a side has no run that trained", html)
    assert " nan " not in html and "+nan" not in html


def test_enabling_a_study_trains_exactly_its_runs_and_disabling_it_only_rebuilds(finished_run, served, tmp_path):
    mirror, definition = served
    copy = copy_of(finished_run, tmp_path)
    base = small_config(mirror.url, definition)
    base["study_definitions"]["extra"] = {"kind": "dropout", "topologies": ["a", "c"]}
    base["topologies"]["c"] = {"hidden": [8], "dropout": 0.5}
    write_config(copy, {**base, "studies": ["small"]})
    assert job_counts(planned_jobs(copy)) == {"report": 1, "all": 1}  # a defined study changes nothing …
    write_config(copy, {**base, "studies": ["small", "extra"]})
    # … enabled, its new runs (c's two seeds, one stack; a's runs belong to the study defined first)
    assert planned_trainings(copy) == {"train_stack_tiny_c_seed1_1": [("c", 1), ("c", 2)]}
    assert job_counts(planned_jobs(copy)) == {"train_stack_tiny_c_seed1_1": 1, "evaluate": 2, "report": 1, "all": 1}
    snakemake(copy, "--cores", "2")
    assert "Study: extra" in (copy / "results/tiny/report/report.html").read_text()
    write_config(copy, {**base, "studies": ["small"]})
    assert job_counts(planned_jobs(copy)) == {"report": 1, "all": 1}  # disabled: the report without it
    snakemake(copy, "--cores", "2")
    assert "Study: extra" not in (copy / "results/tiny/report/report.html").read_text()
    assert not list((copy / "results/tiny/report/plots").glob("extra-*"))  # its figures went with it


def test_exact_workflow_same_bytes_on_another_cpu_and_thread_count_and_every_job_says_so(served, tmp_path):
    """reproducibility: exact (the default), on this CPU and on a simulated one without AVX2 (NumPy's dispatch
    hidden) training with two BLAS threads: the same bytes, and every job's log says which arithmetic ran."""
    mirror, definition = served
    runs = {}
    for cpu, hidden, threads in (("this", "", 1), ("older", "X86_V3 X86_V4 AVX512_ICL AVX512_SPR", 2)):
        work = tmp_path / cpu
        config = small_config(mirror.url, definition)
        config["resources"] = {**config.get("resources", {}), "train": {"threads": threads}}
        write_config(work, config)
        snakemake(work, "--cores", "2", env={"NPY_DISABLE_CPU_FEATURES": hidden})
        runs[cpu] = work
        logs = sorted((work / "logs").rglob("*.log"))
        assert len(logs) >= 8  # download, preprocess, check, 2 training jobs, 4 evaluations, report
        for log in logs:  # every job set its arithmetic up first thing, and says so
            assert "arithmetic: exact (" in log.read_text().splitlines()[0], log
        meta = json.loads((work / "results/tiny/models/a/seed1/model.json").read_text())
        assert meta["arithmetic"]["mode"] == "exact"
        assert ("X86_V3" in meta["arithmetic"]["numpy_simd"]) is (cpu == "this")
        html = (work / "results/tiny/report/report.html").read_text()
        assert "Every run used exact arithmetic" in html
    for topo in ("a", "b"):
        for seed in (1, 2):
            ev = f"results/tiny/eval/{topo}/seed{seed}/predictions.npy"
            model = f"results/tiny/models/{topo}/seed{seed}/model.npz"
            assert (runs["this"] / ev).read_bytes() == (runs["older"] / ev).read_bytes()
            assert (runs["this"] / model).read_bytes() == (runs["older"] / model).read_bytes()
    check = compare_results(runs["this"], runs["older"])
    assert check.returncode == 0 and check.stdout.startswith("REPRODUCED bitwise"), check.stdout


def compare_results(reference, results):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mlpsweep",
            "-q",
            "compare",
            str(reference / "results/tiny"),
            str(results / "results/tiny"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_compare_native_against_exact_and_a_native_tree_certified(served, tmp_path):
    """A stable recipe (ReLU, softmax, η = 0.1) native against exact: other bytes, and a tree that claims exact
    arithmetic has one right answer, so not reproduced (a claimed arithmetic explains nothing where bytes
    disagree); a native tree certifies against itself.  (Two exact trees of other recipes: test_compare.)"""
    mirror, definition = served
    stable = {"activation": "relu", "output": "softmax", "cost": "log_likelihood", "init": "he", "eta": 0.1}
    made = {}
    for name, mode, epochs in (("native", "native", 2), ("exact", "exact", 2)):
        config = small_config(mirror.url, definition, reproducibility=mode)
        config["defaults"] = {**config["defaults"], **stable, "epochs": epochs}
        write_config(tmp_path / name, config)
        snakemake(tmp_path / name, "--cores", "2")
        made[name] = tmp_path / name
    other = compare_results(made["native"], made["exact"])
    assert other.returncode == 1 and other.stdout.startswith("NOT REPRODUCED"), other.stdout
    assert "native arithmetic in the reference and exact in the results" in other.stdout
    from mlpsweep.certify import certify

    native = certify(made["native"] / "results/tiny")
    assert native.certified and native.modes == {"native"}, native.problems
    assert any("runs in native arithmetic: their predictions are checked" in n for n in native.notes)


def test_a_sequential_study_adds_seeds_look_by_look_until_it_stops(finished_run, served, tmp_path):
    """replication {2, 1, 4}: look 1 on seeds 1–2 (the finished run's), then a checkpoint plans each next look's
    runs only while the verdict is inconclusive; the report decides at the last look's level on its seeds."""
    mirror, definition = served
    copy = copy_of(finished_run, tmp_path)
    small = {"topologies": ["a", "b"], "replication": {"start": 2, "step": 1, "max": 4, "spending": "pocock"}}
    write_config(copy, small_config(mirror.url, definition, study_definitions={"small": small}))
    assert job_counts(planned_jobs(copy)).get("train", 0) == 0  # look 1's runs are the finished run's
    snakemake(copy, "--cores", "2")
    looks = sorted((copy / "results/tiny/studies/small/stages").glob("stage*.json"))  # one decision per look
    docs = [json.loads(p.read_text()) for p in looks]
    assert [d["stop"] for d in docs] == [False] * (len(docs) - 1) + [
        True
    ]  # stopped at the first decided look or the last
    last = docs[-1]
    assert last["seeds"] == [1, 2, 3, 4][: 2 + len(docs) - 1]
    assert len(last["looks"]) == len(docs) and all(x["outcome"] == "inconclusive" for x in last["looks"][:-1])
    if last["looks"][-1]["outcome"] == "inconclusive":
        assert len(docs) == 3  # the planned maximum
    runs = pd.read_csv(copy / "results/tiny/report/runs.csv")
    assert sorted(set(runs["seed"])) == last["seeds"]
    trained = {p.parent.name for p in (copy / "results/tiny/models/a").glob("seed*/model.npz")}
    assert trained == {f"seed{s}" for s in last["seeds"]}  # no run beyond the last look
    html = (copy / "results/tiny/report/report.html").read_text()
    assert f"It took {len(docs)} look" in html and "Pocock" in html
    verdicts_csv = pd.read_csv(copy / "results/tiny/report/verdicts.csv")
    primary = verdicts_csv[verdicts_csv["on"] == "primary"].iloc[0]
    assert primary["outcome"] == last["looks"][-1]["outcome"]  # the report decides as the last look did

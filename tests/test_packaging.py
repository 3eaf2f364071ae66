"""mlpsweep as others use it: a wheel in a fresh environment, and the workflow as a Snakemake module."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from datagen import write_dataset
from workflow_helpers import REPO, write_config

pytestmark = pytest.mark.slow


def tiny_config(folder):
    definition = write_dataset(folder, n_train=300, n_test=100, seed=3)
    return {
        "datasets": ["tiny"],
        "seeds": [1, 2],
        "studies": ["small"],
        "study_definitions": {"small": {"topologies": ["a", "b"]}},
        "defaults": {"epochs": 2},
        "topologies": {"a": {"hidden": [8]}, "b": {"hidden": [8, 6]}},
        "data": {"validation_size": 50},
        "dataset_definitions": {"tiny": {**definition, "sources": [str(folder)]}},
    }


def run(cmd, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def fresh_venv(venv):
    """A new venv whose dependencies come from the site-packages of the interpreter running the tests (a venv
    such as the README's, or a system Python), but whose mlpsweep can only be what is installed into it.

    ``venv --system-site-packages`` would not do: from inside a venv it exposes the *base* interpreter's
    packages, not the venv's (no snakemake there).  A ``.pth`` file naming this interpreter's site folders
    adds them after the new venv's own, and a plain path line processes none of their ``.pth`` files, so an
    editable install of mlpsweep there stays out of sight.
    """
    import site
    import sysconfig

    run([sys.executable, "-m", "venv", str(venv)])
    here = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        here.append(site.getusersitepackages())
    own = run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    folders = [p for p in dict.fromkeys(here) if os.path.isdir(p)]
    (Path(own.stdout.strip()) / "_mlpsweep_test_deps.pth").write_text("".join(f"{p}\n" for p in folders))
    return venv


def test_a_wheel_in_a_fresh_venv_builds_the_report(tmp_path):
    wheels = tmp_path / "wheels"
    # a copy of the source: building in place would leave build/ in the checkout
    source = tmp_path / "source"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", "build", "*.egg-info", ".snakemake", "results", "resources", "logs", ".pytest_cache", "__pycache__"
        ),
    )
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)])
    (wheel,) = wheels.glob("mlpsweep-*.whl")
    venv = fresh_venv(tmp_path / "venv")
    py = venv / "bin" / "python"
    run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)])
    where = run([str(py), "-c", "import mlpsweep; print(mlpsweep.__file__)"], cwd=tmp_path).stdout.strip()
    assert where.startswith(str(venv)), where  # the installed copy, not the source tree
    work = tmp_path / "work"
    write_config(work, tiny_config(tmp_path / "upstream"))
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    run([str(py), "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--cores", "2"], cwd=work, env=env)
    report = (work / "results/tiny/report/report.html").read_text()
    assert "Study: small" in report and "Provenance" in report
    # every data file the package reads came with the wheel
    run(
        [
            str(py),
            "-c",
            textwrap.dedent("""
        from mlpsweep.config import load_schema
        from mlpsweep.data.datasets import resolve
        from mlpsweep.report import caption
        from mlpsweep.report.build import reference
        from mlpsweep.report.html import environment
        from mlpsweep.studies import KINDS
        load_schema(); resolve("mnist"); reference(); caption("network")
        environment().get_template("report.html.j2"); environment().get_template("report.md.j2")
        [k.caption(p) for k in KINDS.values() for p in k.plots]
        """),
        ],
        cwd=tmp_path,
    )


def test_the_workflow_as_a_module_of_another_workflow(tmp_path):
    outer = tmp_path / "outer"
    write_config(outer, tiny_config(tmp_path / "upstream"))
    (outer / "Snakefile").write_text(
        textwrap.dedent(f"""\
        configfile: "config/config.yaml"


        module mlpsweep:
            snakefile:
                "{REPO / "Snakefile"}"
            config:
                config


        use rule * from mlpsweep as mlpsweep_*
        """)
    )
    proc = run([sys.executable, "-m", "snakemake", "--cores", "2"], cwd=outer)
    assert "mlpsweep_train" in proc.stdout + proc.stderr
    html = (outer / "results/tiny/report/report.html").read_text()
    assert "Study: small" in html
    again = run([sys.executable, "-m", "snakemake", "--cores", "2", "-n"], cwd=outer)
    assert "Nothing to be done" in again.stdout + again.stderr

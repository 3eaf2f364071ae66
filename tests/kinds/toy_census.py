"""A study kind of one's own, outside the mlpsweep package: a census of the training labels.

It is the whole of a new kind (tests/test_study_kinds.py runs it through the workflow): this module,
its caption (``captions/toy_census-counts.rst``) and a study in the config (``kind: toy_census``).
Its job counts the training images of each class; its section shows the counts and decides whether
the rarest class holds at least ``min_share`` of them.
"""

import json
from pathlib import Path

import numpy as np

from mlpsweep.studies import Job, StudyKind
from mlpsweep.verdicts import Outcome, Verdict

CENSUS = "results/{dataset}/studies/{study}/census.json"


def decide(counts, *, min_share: float) -> Verdict:
    share = min(counts) / sum(counts)
    outcome = Outcome.SUPPORTED if share >= min_share else Outcome.CONTRADICTED
    return Verdict(
        outcome,
        f"{outcome.value}: the rarest class holds {100 * share:.1f} % of the training images "
        f"(declared floor {100 * min_share:.1f} %).",
        {"share": share},
        {"min_share": min_share},
    )


class Census(StudyKind):
    name = "toy_census"
    summary = "how many training images each class has"
    options = {
        "min_share": {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "default": 0.05,
            "description": "The verdict's floor: the rarest class's share of the training images.",
        }
    }
    plots = ("counts",)
    needs_runs = False

    def jobs(self, study, definition, topology):
        return [Job("census", (CENSUS.replace("{study}", study),), {"study": study}, mem_mb=500, runtime=5)]

    def run_job(self, job, arguments, outputs, *, data_dir=None, threads=1):
        from mlpsweep.data import preprocess

        data = preprocess.load(data_dir)
        counts = np.bincount(np.asarray(data.y_train), minlength=data.classes)
        Path(outputs[0]).parent.mkdir(parents=True, exist_ok=True)
        Path(outputs[0]).write_text(json.dumps({"study": arguments["study"], "counts": counts.tolist()}))

    def section(self, name, study, data):
        import matplotlib.pyplot as plt

        (path,) = data.study_files[name]
        counts = json.loads(Path(path).read_text())["counts"]
        sec = self.new_section(name, study)
        sec.header = ["class", "training images"]
        sec.rows = [[str(c), str(n)] for c, n in enumerate(counts)]
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.bar(range(len(counts)), counts)
        self.figure(sec, name, "counts", fig, data)
        sec.verdict = decide(counts, min_share=study["min_share"])
        sec.thresholds = {"min_share": study["min_share"]}
        return sec


KIND = Census()

"""Names that are paths or options are refused in one line naming the key; every planned output stays inside."""

import pytest
from workflow_helpers import REPO

from mlpsweep.config import ConfigError, is_name
from mlpsweep.plan import check_inside, plan

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
SHA = "a" * 64


@pytest.mark.parametrize("name", [".", "..", "...", "-rf", "_x", ".hidden", "a/b", "", "a b", "é"])
def test_names_that_are_paths_or_options_are_not_names(name):
    assert not is_name(name)


@pytest.mark.parametrize("name", ["30", "30-30", "L0.5-1e-3", "a..b", "K50000", "x_", "best-800"])
def test_plain_names_are_names(name):
    assert is_name(name)


DATASET = {
    "files": {
        role: {"name": f"{role}.gz", "sha256": SHA, "bytes": 1}
        for role in ("train_images", "train_labels", "test_images", "test_labels")
    },
    "class_names": [str(i) for i in range(10)],
    "sources": ["/data"],
}


@pytest.mark.parametrize(
    "config, key",
    [
        ({"topologies": {"..": {"hidden": [5]}}, "study_definitions": {"depth": {"topologies": [".."]}}}, "topologies"),
        ({"topologies": {"-rf": {"hidden": [5]}}}, "topologies"),
        ({"studies": [".."], "study_definitions": {"..": {"topologies": ["30"]}}}, "study_definitions"),
        ({"study_definitions": {"depth": {"topologies": ["..."]}}}, "study_definitions.depth.topologies[0]"),
        ({"datasets": [".."], "dataset_definitions": {"..": DATASET}}, "dataset_definitions"),
        (
            {
                "datasets": ["mine"],
                "dataset_definitions": {
                    "mine": {
                        **DATASET,
                        "files": {**DATASET["files"], "train_images": {"name": "..", "sha256": SHA, "bytes": 1}},
                    }
                },
            },
            "dataset_definitions.mine.files.train_images.name",
        ),
    ],
)
def test_a_name_that_is_a_path_is_refused_naming_the_key(config, key):
    with pytest.raises(ConfigError) as info:
        plan(config, SCHEMA)
    text = str(info.value)
    assert "\n" not in text and key in text, text


def test_the_planner_refuses_any_output_outside_its_three_folders():
    check_inside(["results/{dataset}/models/30/seed1/model.npz", "logs/x.log", "resources/datasets/mnist/a.gz"])
    for bad in (
        "results/../seed4/model.npz",
        "/etc/passwd",
        "results/../../x",
        "report.html",
        "results/x/../../logs2/y",
    ):
        with pytest.raises(ConfigError, match="outside resources/, results/, logs/"):
            check_inside([bad])

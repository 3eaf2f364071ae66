"""The evaluation job: a trained model on the test set.

Writes ``metrics.json`` and ``predictions.npy`` (the predicted class of every
test image, uint8, in test-set order).  ``validation`` in the metrics counts,
per class, the validation images and how many images the model assigns to
that class: a class (almost) never predicted marks a *stuck* run
(:func:`mlpsweep.report.comparison.dead_classes`), judged on validation data
so that the test set decides nothing about which runs count.  The metrics say which epoch each
number belongs to: ``test`` is the model as trained (the final epoch);
``best_validation_epoch`` is the epoch with the highest validation accuracy
and the test accuracy the run had at that epoch (from its history), so a
table can show either and say which.  A diverged run is recorded as such,
with no accuracy, and an empty prediction array.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from .atomic import atomic_path, write_json
from .data import preprocess
from .nn import History, load_network, sparsity

#: What metrics.json copies of model.json's record of the training environment.
ENVIRONMENT_KEYS = ("threads", "blas", "versions", "arithmetic", "monitoring", "exact_fallbacks")
#: |w| thresholds at which the share of (near-)zero weights is reported.
SPARSITY_THRESHOLDS = (1e-4, 1e-3, 1e-2)

log = logging.getLogger("mlpsweep.evaluate")


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """Counts C[true, predicted]."""
    flat = labels.astype(np.int64) * classes + predicted.astype(np.int64)
    return np.bincount(flat, minlength=classes * classes).reshape(classes, classes)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array, allow_pickle=False)


def run(data_dir, model_dir, out_dir) -> dict:
    from . import arithmetic

    arithmetic.check_subnormals()  # a library loaded since the job started may have set FTZ/DAZ
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    meta = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    history = History.from_csv((model_dir / "history.csv").read_text(encoding="utf-8"))
    data = preprocess.load(data_dir)
    classes = data.classes
    metrics = {
        "dataset": data.name,
        "topology": meta["name"],
        "seed": meta["seed"],
        "sizes": meta["sizes"],
        "n_params": meta["n_params"],
        "settings": meta["settings"],
        "status": meta["status"],
        "epochs_completed": meta["epochs_completed"],
        "class_names": data.manifest["class_names"],
        "training_seconds": meta["seconds"],
        "training_environment": {k: meta.get(k) for k in ENVIRONMENT_KEYS},
        "gradient_norms_at_init": meta.get("gradient_norms_at_init"),
    }
    if meta["status"] != "ok":
        metrics.update(
            diverged_epoch=meta.get("diverged_epoch"),
            last_finite_cost=meta.get("last_finite_cost"),
            test=None,
            best_validation_epoch=None,
        )
        log.warning(
            "%s seed %s diverged at epoch %s: no accuracy to report",
            meta["name"],
            meta["seed"],
            meta.get("diverged_epoch"),
        )
        predictions = np.zeros(0, dtype=np.uint8)
    else:
        net, _ = load_network(model_dir / "model.npz", arithmetic=arithmetic.current())
        predictions = net.predict(data.x_test).astype(np.uint8)
        result = net.evaluate(data.x_test, data.y_test)
        labels = np.asarray(data.y_test)
        cm = confusion_matrix(labels, predictions, classes)
        per_class = (np.diag(cm) / np.maximum(cm.sum(axis=1), 1)).tolist()
        val_labels = np.asarray(data.y_val)
        val_predicted = net.predict(data.x_val) if len(val_labels) else np.zeros(0, dtype=np.int64)
        val = history.column("val_accuracy")
        best = int(np.argmax(val))  # the first epoch with the highest validation accuracy
        metrics.update(
            test={
                "epoch": len(history),
                "accuracy": result["accuracy"],
                "cost": result["cost"],
                "correct": result["correct"],
                "n": result["n"],
                "errors": result["n"] - result["correct"],
            },
            final_epoch={
                k: history[-1][k] for k in ("epoch", "train_accuracy", "val_accuracy", "test_accuracy", "train_cost")
            },
            best_validation_epoch={
                "epoch": history[best]["epoch"],
                "val_accuracy": history[best]["val_accuracy"],
                "test_accuracy": history[best]["test_accuracy"],
            },
            per_class_accuracy=per_class,
            validation={
                "images_per_class": np.bincount(val_labels.astype(np.int64), minlength=classes).tolist(),
                "predicted_per_class": np.bincount(
                    np.asarray(val_predicted, dtype=np.int64), minlength=classes
                ).tolist(),
            },
            confusion_matrix=cm.tolist(),
            sparsity={
                "weights": net.n_weights,
                "exactly_zero": sparsity(net.weights)["exactly_zero"],
                "below": {str(t): sparsity(net.weights, t)["below_threshold"] for t in SPARSITY_THRESHOLDS},
            },
        )
        log.info(
            "%s seed %s: test accuracy %.2f %% (final epoch %d); best validation epoch %d (test %.2f %% there)",
            meta["name"],
            meta["seed"],
            100 * result["accuracy"],
            len(history),
            history[best]["epoch"],
            100 * history[best]["test_accuracy"],
        )
    _save_npy(out_dir / "predictions.npy", predictions)
    write_json(out_dir / "metrics.json", metrics)
    return metrics

"""Scores a trained classifier once on the test set, and writes predictions.csv and metrics.json.

The scores and files are NumPy only, so a Keras 3 run on JAX without TensorFlow writes them too; the prediction
helpers for Keras 2 models (`predict_*`) import TensorFlow when they are called.
"""
import csv
from pathlib import Path

import numpy as np

from tfbert import files, runs


def inputs_of(batches):
    """The model inputs of (inputs, labels) or (inputs, labels, weights) batches."""
    return batches.map(lambda inputs, *labels_and_weights: inputs)


def predict_in_order(model, batches, order=None, count=None) -> np.ndarray:
    """`model`'s outputs for `batches` (from `eval_batches(..., order=order)`), back in file order; the first `count`
    rows (the filler rows of full batches dropped)."""
    outputs = model.predict(inputs_of(batches), verbose=0)  # (N, ...) in `order`
    if order is None:
        return outputs[:count]
    outputs = outputs[: len(order)]
    restored = np.empty_like(outputs)
    restored[np.asarray(order)] = outputs
    return restored


def predict_proba(model, batches, order=None, count=None) -> np.ndarray:
    """(N, C) class probabilities of a logits model, in file order (see `predict_in_order`)."""
    from tfbert.keras import tf
    return tf.nn.softmax(predict_in_order(model, batches, order, count)).numpy()


def predict_by_length(model, ids, batch_size=64, eval_batches=None) -> np.ndarray:
    """(N, None) ragged ids -> `model`'s (N, ...) outputs in file order, computed in batches of similar lengths.
    `eval_batches(ids, labels, order)`: how the batches are made (default: `pipeline.eval_batches`, `batch_size`
    texts each, padded to their longest; `train.Trainer.eval_batches` gives the trainer's shapes)."""
    from tfbert.data import pipeline

    order = by_length(ids.row_lengths().numpy())
    labels = np.zeros(ids.nrows(), np.int32)  # not read: predictions only
    if eval_batches is None:
        batches = pipeline.eval_batches(ids, labels, batch_size, order=order)
    else:
        batches = eval_batches(ids, labels, order)
    return predict_in_order(model, batches, order)


def by_length(lengths) -> np.ndarray:
    """(N,) indices sorting texts by length, so evaluation batches hold little padding."""
    return np.argsort(np.asarray(lengths), kind="stable")


def matthews_corrcoef(labels, predictions) -> float:
    """Binary MCC = (TP·TN − FP·FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)); 0 when a factor is 0 (sklearn's rule)."""
    labels, predictions = np.asarray(labels).astype(bool), np.asarray(predictions).astype(bool)
    tp, tn = float(np.sum(labels & predictions)), float(np.sum(~labels & ~predictions))
    fp, fn = float(np.sum(~labels & predictions)), float(np.sum(labels & ~predictions))
    denominator = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    return (tp * tn - fp * fn) / denominator ** 0.5 if denominator > 0 else 0.0


def accuracy(labels, probabilities) -> float:
    return float(np.mean(np.argmax(probabilities, axis=-1) == np.asarray(labels)))


def cross_entropy(labels, probabilities) -> float:
    picked = np.asarray(probabilities)[np.arange(len(labels)), np.asarray(labels)]
    return float(-np.mean(np.log(np.maximum(picked, 1e-12))))


def confusion_matrix(labels, predictions, num_classes) -> np.ndarray:
    """(C, C) counts; row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels), np.asarray(predictions)), 1)
    return matrix


def count_params(weights) -> int:
    """Parameters of floating-point weights (SeededDropout's int64 call counters are not parameters)."""
    return int(sum(np.prod(w.shape) for w in weights if w.dtype.is_floating))


def parameter_counts(model) -> dict:
    """Trainable and all parameters of a Keras 2 model."""
    return {"trainable_params": count_params(model.trainable_weights), "total_params": count_params(model.weights)}


def write_predictions(path, texts, labels, probabilities, class_names):
    """predictions.csv: index, label, prediction, one probability column per class, text."""
    with files.atomic(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["index", "label", "prediction", *[f"p_{name}" for name in class_names], "text"])
        for i, (text, label, p) in enumerate(zip(texts, labels, probabilities)):
            writer.writerow([i, int(label), int(np.argmax(p)), *[f"{x:.6f}" for x in p], text])


def read_predictions(path) -> tuple[list, np.ndarray, np.ndarray]:
    """(texts, labels, predictions) from a predictions.csv; a malformed row is a ValueError naming file:line."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for line, row in enumerate(rows, start=2):
        if not row.get("text") or not row.get("label", "").isdigit() or not row.get("prediction", "").isdigit():
            raise ValueError(f"{path}:{line}: expected text, label and prediction, got {row}")
    labels, predictions = (np.array([int(row[name]) for row in rows]) for name in ("label", "prediction"))
    return [row["text"] for row in rows], labels, predictions


def scores(split, probabilities, prefix="test") -> dict:
    """Accuracy, cross-entropy, example count, and for two classes MCC, keyed `{prefix}_...`."""
    result = {f"{prefix}_accuracy": accuracy(split.labels, probabilities),
              f"{prefix}_loss": cross_entropy(split.labels, probabilities), f"{prefix}_examples": len(split)}
    if probabilities.shape[1] == 2:
        result[f"{prefix}_mcc"] = matthews_corrcoef(split.labels, np.argmax(probabilities, axis=-1))
    return result


def write_test_results(run_dir, split, probabilities, class_names, **extra) -> dict:
    """Writes predictions.csv and metrics.json (test scores, plus `extra`); returns the metrics."""
    run_dir = Path(run_dir)
    write_predictions(run_dir / runs.PREDICTIONS, split.texts, split.labels, probabilities, class_names)
    metrics = {**scores(split, probabilities), **extra}
    files.write_json(run_dir / runs.METRICS, metrics)
    return metrics

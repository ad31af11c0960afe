"""Results tables and plots, drawn from run directories alone (no live objects).

    python -m tfbert.report runs/agnews     # redraws results.md and the plots of every run in it
"""
import sys
from pathlib import Path

import numpy as np

from tfbert import evaluate, files, plots, runs
from tfbert.data.splits import Split

def compute_note(compute: dict) -> str:
    """", mixed_bfloat16, XLA" for a run trained with the accelerator switches; "" for the CPU defaults."""
    parts = [compute["precision"]] if compute.get("precision", "float32") != "float32" else []
    if compute.get("jit_compile"):
        parts.append("XLA")
    elif compute.get("static_shapes"):  # a TPU
        parts.append("static shapes")
    return "".join(f", {part}" for part in parts)


# Table columns: header -> cell from (run directory name, config.json as a runs.RunConfig, metrics.json).
CELLS = {
    "variant": lambda name, config, metrics: name,
    "model": lambda name, config, metrics: (config.model_name or "?") + compute_note(config.compute),
    "encoder": lambda name, config, metrics: config.encoder,
    "trainable / total params": lambda name, config, metrics:
        f"{metrics['trainable_params']:,} / {metrics['total_params']:,}",
    "test accuracy": lambda name, config, metrics: f"{metrics['test_accuracy']:.4f}",
    "epochs (best)": lambda name, config, metrics: f"{metrics['epochs_trained']} ({metrics['best_epoch'] + 1})",
    "train time": lambda name, config, metrics: f"{metrics['train_seconds']:.0f} s",
    "train examples/s": lambda name, config, metrics: f"{metrics['train_examples_per_second']:.1f}",
}
COLUMNS = tuple(CELLS.items())


def run_dirs(out_dir) -> list[Path]:
    """The finished runs (with a metrics.json) directly inside `out_dir`, by name."""
    return sorted(p.parent for p in Path(out_dir).glob(f"*/{runs.METRICS}"))


def majority_baseline(run_dir, columns) -> str:
    """The table line of a model that always answers the most frequent training class (its MCC is 0), scored on
    the labels of `run_dir`'s predictions files; cells it has no value for are "-"."""
    run_dir = Path(run_dir)
    config = runs.read_config(run_dir)
    majority = int(np.argmax(config.class_counts))
    metrics = {"trainable_params": 0, "total_params": 0}
    scored = {"test": run_dir / runs.PREDICTIONS,
              **{path.stem.removeprefix("predictions_"): path for path in sorted(run_dir.glob("predictions_*.csv"))}}
    for prefix, path in scored.items():
        texts, labels, _ = evaluate.read_predictions(path)
        always = np.eye(len(config.class_names))[np.full(len(labels), majority)]  # (N, C): certain of the majority
        metrics.update(evaluate.scores(Split(texts, labels), always, prefix))

    def cell(column):
        try:
            return column(f"always '{config.class_names[majority]}'", None, metrics)
        except (AttributeError, KeyError, TypeError):  # a value a constant answer does not have
            return "-"
    return "| " + " | ".join(cell(column) for _, column in columns) + " |"


def results_table(dirs, columns=COLUMNS, baseline=False) -> str:
    """A Markdown table, one row per run directory (after the majority baseline's, with `baseline`)."""
    lines = ["| " + " | ".join(header for header, _ in columns) + " |", "|" + "---|" * len(columns)]
    if baseline:
        lines.append(majority_baseline(dirs[0], columns))
    for run_dir in map(Path, dirs):
        config, metrics = runs.read_config(run_dir), files.read_json(run_dir / runs.METRICS)
        lines.append("| " + " | ".join(cell(run_dir.name, config, metrics) for _, cell in columns) + " |")
    return "\n".join(lines)


def render(out_dir, columns=COLUMNS, score="accuracy", baseline=False) -> str:
    """Writes every run's plots, the chart of test `score` and results.md in `out_dir`; returns the table.

    `baseline`: the table's first line is the model that always answers the most frequent training class.
    """
    out_dir = Path(out_dir)
    dirs = run_dirs(out_dir)
    if not dirs:
        raise FileNotFoundError(f"no finished runs (*/{runs.METRICS}) in {out_dir}")
    for run_dir in dirs:
        plots.plot_learning_curves(run_dir, score)
        plots.plot_confusion_matrix(run_dir)
    plots.plot_accuracy(dirs, out_dir / f"{score}.png", f"test_{score}")
    table = results_table(dirs, columns, baseline)
    files.write_text(out_dir / "results.md", table + "\n")
    return table


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tfbert.report RUNS_DIR")
    print(render(sys.argv[1]))

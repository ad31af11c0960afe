"""Results tables and plots, drawn from run directories alone (no live objects).

    python -m tfbert.report runs/agnews     # redraws results.md and the plots of every run in it
"""
import sys
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from tfbert import evaluate, runs  # noqa: E402
from tfbert.data.splits import Split  # noqa: E402

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
        config, metrics = runs.read_config(run_dir), runs.read_json(run_dir / runs.METRICS)
        lines.append("| " + " | ".join(cell(run_dir.name, config, metrics) for _, cell in columns) + " |")
    return "\n".join(lines)


def plot_learning_curves(run_dir, score="accuracy"):
    run_dir = Path(run_dir)
    history = runs.read_json(run_dir / runs.HISTORY)
    best_epoch = runs.read_json(run_dir / runs.METRICS)["best_epoch"] + 1
    epochs = [row["epoch"] + 1 for row in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    splits = [("", "-o"), ("val_", "--o")] if f"val_{score}" in history[0] else [("", "-o")]  # runs without validation
    for split, style in splits:
        loss_ax.plot(epochs, [row[f"{split}loss"] for row in history], style, label=f"{split or 'train_'}loss")
        acc_ax.plot(epochs, [row[f"{split}{score}"] for row in history], style, label=f"{split or 'train_'}{score}")
    for ax, title in [(loss_ax, "loss"), (acc_ax, score)]:
        ax.axvline(best_epoch, color="gray", linestyle=":", label="best (kept) epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel="epoch", title=f"{run_dir.name}: {title}")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    runs.save_figure(fig, run_dir / "learning_curves.png")


def plot_confusion_matrix(run_dir):
    run_dir = Path(run_dir)
    class_names = runs.read_config(run_dir).class_names
    _, labels, predictions = evaluate.read_predictions(run_dir / runs.PREDICTIONS)
    matrix = evaluate.confusion_matrix(labels, predictions, len(class_names))
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in zip(((i, j) for i in range(len(matrix)) for j in range(len(matrix))), matrix.ravel()):
        ax.text(j, i, str(count), ha="center", va="center", color="white" if count > matrix.max() / 2 else "black")
    ax.set(xticks=range(len(class_names)), yticks=range(len(class_names)), xlabel="predicted", ylabel="true",
           title=f"{run_dir.name}: test confusion matrix")
    ax.set_xticklabels(class_names, rotation=30)
    ax.set_yticklabels(class_names)
    fig.tight_layout()
    runs.save_figure(fig, run_dir / "confusion_matrix.png")


def plot_accuracy(dirs, path, score="test_accuracy"):
    names = [Path(d).name for d in dirs]
    values = [runs.read_json(Path(d) / runs.METRICS)[score] for d in dirs]
    fig, ax = plt.subplots(figsize=(max(4, 1.4 * len(names)), 4))
    bars = ax.bar(names, values, color="tab:blue")
    ax.bar_label(bars, fmt="%.3f")
    ax.set(ylabel=score.replace("_", " "), ylim=(min(0, *values), 1), title=f"{score.replace('_', ' ')} by variant")
    fig.tight_layout()
    runs.save_figure(fig, path)


def render(out_dir, columns=COLUMNS, score="accuracy", baseline=False) -> str:
    """Writes every run's plots, the chart of test `score` and results.md in `out_dir`; returns the table.

    `baseline`: the table's first line is the model that always answers the most frequent training class.
    """
    out_dir = Path(out_dir)
    dirs = run_dirs(out_dir)
    if not dirs:
        raise FileNotFoundError(f"no finished runs (*/{runs.METRICS}) in {out_dir}")
    for run_dir in dirs:
        plot_learning_curves(run_dir, score)
        plot_confusion_matrix(run_dir)
    plot_accuracy(dirs, out_dir / f"{score}.png", f"test_{score}")
    table = results_table(dirs, columns, baseline)
    runs.write_text(out_dir / "results.md", table + "\n")
    return table


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tfbert.report RUNS_DIR")
    print(render(sys.argv[1]))

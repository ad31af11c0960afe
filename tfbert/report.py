"""Results tables and plots, drawn from run directories alone (no live objects).

    python -m tfbert.report runs/agnews     # redraws results.md and the plots of every run in it
"""
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from tfbert import evaluate, runs  # noqa: E402

COLUMNS = ("variant", "model", "trainable / total params", "test accuracy", "epochs (best)", "train time",
           "train examples/s")


def run_dirs(out_dir) -> list[Path]:
    """The finished runs (with a metrics.json) directly inside `out_dir`, by name."""
    return sorted(p.parent for p in Path(out_dir).glob(f"*/{runs.METRICS}"))


def _row(run_dir: Path) -> list[str]:
    config, metrics = runs.read_json(run_dir / runs.CONFIG), runs.read_json(run_dir / runs.METRICS)
    return [
        run_dir.name,
        config.get("model_name", "?"),
        f"{metrics['trainable_params']:,} / {metrics['total_params']:,}",
        f"{metrics['test_accuracy']:.4f}",
        f"{metrics['epochs_trained']} ({metrics['best_epoch'] + 1})",
        f"{metrics['train_seconds']:.0f} s",
        f"{metrics['train_examples_per_second']:.0f}",
    ]


def results_table(dirs) -> str:
    """A Markdown table, one row per run directory."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_row(Path(d))) + " |" for d in dirs]
    return "\n".join(lines)


def plot_learning_curves(run_dir):
    run_dir = Path(run_dir)
    history = runs.read_json(run_dir / runs.HISTORY)
    best_epoch = runs.read_json(run_dir / runs.METRICS)["best_epoch"] + 1
    epochs = [row["epoch"] + 1 for row in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for split, style in [("", "-o"), ("val_", "--o")]:
        loss_ax.plot(epochs, [row[f"{split}loss"] for row in history], style, label=f"{split or 'train_'}loss")
        acc_ax.plot(epochs, [row[f"{split}accuracy"] for row in history], style, label=f"{split or 'train_'}accuracy")
    for ax, title in [(loss_ax, "loss"), (acc_ax, "accuracy")]:
        ax.axvline(best_epoch, color="gray", linestyle=":", label="best (kept) epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel="epoch", title=f"{run_dir.name}: {title}")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(run_dir / "learning_curves.png", dpi=100)
    plt.close(fig)


def plot_confusion_matrix(run_dir):
    run_dir = Path(run_dir)
    class_names = runs.read_json(run_dir / runs.CONFIG)["class_names"]
    labels, predictions = evaluate.read_predictions(run_dir / runs.PREDICTIONS)
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
    fig.savefig(run_dir / "confusion_matrix.png", dpi=100)
    plt.close(fig)


def plot_accuracy(dirs, path):
    names = [Path(d).name for d in dirs]
    accuracies = [runs.read_json(Path(d) / runs.METRICS)["test_accuracy"] for d in dirs]
    fig, ax = plt.subplots(figsize=(max(4, 1.4 * len(names)), 4))
    bars = ax.bar(names, accuracies, color="tab:blue")
    ax.bar_label(bars, fmt="%.3f")
    ax.set(ylabel="test accuracy", ylim=(0, 1), title="test accuracy by variant")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render(out_dir) -> str:
    """Writes every run's plots, the accuracy chart and results.md in `out_dir`; returns the table."""
    out_dir = Path(out_dir)
    dirs = run_dirs(out_dir)
    if not dirs:
        raise FileNotFoundError(f"no finished runs (*/{runs.METRICS}) in {out_dir}")
    for run_dir in dirs:
        plot_learning_curves(run_dir)
        plot_confusion_matrix(run_dir)
    plot_accuracy(dirs, out_dir / "accuracy.png")
    table = results_table(dirs)
    (out_dir / "results.md").write_text(table + "\n")
    return table


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tfbert.report RUNS_DIR")
    print(render(sys.argv[1]))

"""Every picture tfbert draws, in one place: a run's learning curves, confusion matrix and scores (`report`), and
what `interpret` shows: attention, attributions, feature maps, probes layer by layer. Each saves a PNG
(`files.save_figure`) and closes its figure.
"""
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files, not windows: also in a notebook, which shows the saved PNGs
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from tfbert import evaluate, files, runs  # noqa: E402
from tfbert.interpret import maps  # noqa: E402


def plot_learning_curves(run_dir, score="accuracy"):
    run_dir = Path(run_dir)
    history = files.read_json(run_dir / runs.HISTORY)
    best_epoch = files.read_json(run_dir / runs.METRICS)["best_epoch"] + 1
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
    files.save_figure(fig, run_dir / "learning_curves.png")


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
    files.save_figure(fig, run_dir / "confusion_matrix.png")


def plot_accuracy(dirs, path, score="test_accuracy"):
    names = [Path(d).name for d in dirs]
    values = [files.read_json(Path(d) / runs.METRICS)[score] for d in dirs]
    fig, ax = plt.subplots(figsize=(max(4, 1.4 * len(names)), 4))
    bars = ax.bar(names, values, color="tab:blue")
    ax.bar_label(bars, fmt="%.3f")
    ax.set(ylabel=score.replace("_", " "), ylim=(min(0, *values), 1), title=f"{score.replace('_', ' ')} by variant")
    fig.tight_layout()
    files.save_figure(fig, path)


def plot_attention(tokens, attention, path, title=""):
    """A grid of heat maps, a row per layer and a column per head; token i's row shows where it attends."""
    layers, heads = attention.shape[:2]
    fig, axes = plt.subplots(layers, heads, figsize=(1.6 * heads, 1.6 * layers + 0.6), squeeze=False)
    for layer in range(layers):
        for head in range(heads):
            ax = axes[layer, head]
            ax.imshow(attention[layer, head], cmap="viridis", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if layer == 0:
                ax.set_title(f"head {head + 1}", fontsize=8)
            if head == 0:
                ax.set_ylabel(f"layer {layer + 1}", fontsize=8)
    fig.suptitle(f"{title}\n{' '.join(tokens)}"[:300], fontsize=9)
    fig.tight_layout()
    files.save_figure(fig, path)


def plot_head(tokens, weights, path, title=""):
    """One head's (T, T) attention with the tokens on both axes."""
    size = 2 + 0.25 * len(tokens)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(weights, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=8)
    ax.set_yticks(range(len(tokens)), tokens, fontsize=8)
    ax.set_xlabel("attended to")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    files.save_figure(fig, path)


def plot_attributions(attribution, class_names, path):
    """Bars per token: green pushed towards the explained class, red away from it."""
    scores = attribution.scores
    fig, ax = plt.subplots(figsize=(max(4, 0.35 * len(scores)), 3))
    ax.bar(range(len(scores)), scores, color=["tab:green" if s >= 0 else "tab:red" for s in scores])
    ax.set_xticks(range(len(scores)), attribution.tokens, rotation=90, fontsize=8)
    ax.axhline(0, color="black", linewidth=0.5)
    name = class_names[attribution.label]
    ax.set_ylabel(f"logit of {name}")
    probability = attribution.probabilities[attribution.label]
    ax.set_title(f"integrated gradients for {name} (p = {probability:.2f})", fontsize=9)
    fig.tight_layout()
    files.save_figure(fig, path)


def plot_word_attributions(attributions, class_names, path, title=""):
    """One panel per explainer (`attributions.WordAttribution`s of one text), bars per word, each panel scaled to
    its largest score: red pushed toward the explained class, blue away."""
    words = attributions[0].words
    fig, axes = plt.subplots(1, len(attributions), figsize=(2.6 * len(attributions) + 1.5, 1.2 + 0.24 * len(words)),
                             sharey=True, squeeze=False)
    for ax, a in zip(axes[0], attributions):
        scores = a.scores / (np.abs(a.scores).max() or 1.0)
        ax.barh(range(len(words)), scores, color=["tab:red" if s > 0 else "tab:blue" for s in scores])
        ax.axvline(0, color="black", linewidth=0.5)
        ax.set_xlim(-1.05, 1.05)
        ax.set_title(f"{a.method.replace('_', ' ')} ({a.seconds:.1f} s)", fontsize=9)
    axes[0][0].set_yticks(range(len(words)), words, fontsize=8)
    axes[0][0].invert_yaxis()
    fig.suptitle(f"{title}\nwhy {class_names[attributions[0].label]}: scores per word, scaled per explainer"[:200],
                 fontsize=9)
    fig.tight_layout()
    files.save_figure(fig, path)


def plot_projection(points, explained, labels, class_names, path, title="", umap=None):
    """(N, 2) principal-component coordinates, one colour per true class; beside them the (N, 2) UMAP ones if given."""
    panels = 1 if umap is None else 2
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 5), squeeze=False)
    for ax, coordinates in zip(axes[0], (points, umap)):
        for label, name in enumerate(class_names):
            chosen = labels == label
            ax.scatter(coordinates[chosen, 0], coordinates[chosen, 1], s=6, alpha=0.6, label=name)
    axes[0][0].set_xlabel(f"PC 1 ({explained[0]:.0%} of variance)")
    axes[0][0].set_ylabel(f"PC 2 ({explained[1]:.0%} of variance)")
    axes[0][0].set_title(f"PCA: {title}", fontsize=9)
    if umap is not None:
        axes[0][1].set_title("UMAP (15 neighbours): clusters are real, distances between them are not", fontsize=9)
    axes[0][-1].legend(markerscale=3)
    fig.tight_layout()
    files.save_figure(fig, path)


def plot_layer_projections(layers, labels, class_names, path, title=""):
    """(L + 1, N, H) features: each layer's on its two principal components, one panel per layer."""
    fig, axes = plt.subplots(1, len(layers), figsize=(2.4 * len(layers), 2.8), squeeze=False)
    for n, (ax, features) in enumerate(zip(axes[0], layers)):
        points, explained = maps.principal_components(features)
        for label, name in enumerate(class_names):
            chosen = labels == label
            ax.scatter(points[chosen, 0], points[chosen, 1], s=3, alpha=0.5, label=name)
        ax.set_title(f"{'embeddings' if n == 0 else f'layer {n}'} ({explained.sum():.0%})", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][-1].legend(fontsize=6, markerscale=3)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    files.save_figure(fig, path)


def plot_probes(curves: dict, path, title=""):
    """Probe accuracy by layer, one line per model ({name: (L + 1,) accuracies})."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, accuracy in curves.items():
        ax.plot(range(len(accuracy)), accuracy, marker="o", label=name)
    layers = len(next(iter(curves.values())))
    ax.set_xticks(range(layers), ["emb."] + [str(i) for i in range(1, layers)])
    ax.set_xlabel("layer (mean-pooled output)")
    ax.set_ylabel("linear probe: test accuracy")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    files.save_figure(fig, path)

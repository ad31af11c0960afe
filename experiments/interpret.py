"""What a trained model looks at: attention (interactive and as pictures), word attributions, a map of its features.

Give it an HF run directory from `experiments.agnews` (hf_frozen, hf_finetune) or `experiments.cola`
(tuned, book, frozen), the from-scratch AG News run (scratch), or a KantaiBERT run, and, optionally, texts:

    python -m experiments.interpret --run runs/agnews/hf_finetune
    python -m experiments.interpret --run runs/agnews/hf_finetune "Oil prices fall as OPEC raises output"
    python -m experiments.interpret --run runs/agnews/scratch
    python -m experiments.interpret --run runs/kantaibert "Reason is the faculty of principles."

Without texts it explains two test texts from the run's predictions.csv: the first it got right and the
first it got wrong (KantaiBERT: two sentences of Kant's). For each text it writes, into --out (default:
RUN/interpret):
    attention_N.html     the interactive view: head view (layer selector, head toggles, hover a token) and model
                         view (every layer x head; click one to open it); self-contained, works offline
    attention_N.png      every layer x head (6 x 12 for MiniLM, 1 x 2 for scratch); row i = where token i attends
    head_N.png           the last layer's head that attends least to [CLS] and [SEP] (scratch: the first head),
                         tokens on both axes
    attributions_N.png   integrated gradients per token: which tokens pushed the predicted class's logit
    words_N.png, .html   integrated gradients, SHAP and LIME on the same words, side by side and as coloured text
and once, for --examples test texts:
    projection.png       the head's input features on their two principal components, by true class
    projector/           vectors.tsv + metadata.tsv for https://projector.tensorflow.org (PCA, t-SNE, UMAP)
KantaiBERT runs get the attention files only: a masked language model has no classes to attribute.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from tfbert import attributions, evaluate, interpret, runs, views
from tfbert.data import OfflineError

KANT_TEXTS = ("Human thinking involves human reason.",
              "The categories of the understanding are the conditions of the possibility of experience.")
WORD_EXPLAINERS = ("integrated_gradients", "shap", "lime")


def default_texts(texts, labels, predictions) -> list[str]:
    """The first test text the model got right and the first it got wrong (if any)."""
    right, wrong = np.flatnonzero(labels == predictions), np.flatnonzero(labels != predictions)
    return [texts[chosen[0]] for chosen in (right, wrong) if len(chosen)]


def quietest_head(tokens, attention) -> int:
    """The last layer's head that gives [CLS] and [SEP] the least attention (many heads park theirs there);
    the first head when the tokens have neither."""
    special = [i for i, token in enumerate(tokens) if token in ("[CLS]", "[SEP]")]
    return int(np.argmin(attention[-1][:, :, special].sum(axis=(1, 2))))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments.interpret", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("texts", nargs="*", help="texts to explain (default: one right and one wrong test text)")
    parser.add_argument("--run", type=Path, required=True,
                        help="an HF, scratch or KantaiBERT run directory, e.g. runs/agnews/hf_finetune")
    parser.add_argument("--examples", type=int, default=1000, help="test texts in the projection (default: 1000)")
    parser.add_argument("--steps", type=int, default=50, help="integrated-gradients steps (default: 50)")
    parser.add_argument("--shap-evals", type=int, default=300, help="SHAP's model evaluations per text (default: 300)")
    parser.add_argument("--lime-samples", type=int, default=300, help="LIME's perturbed texts per text (default: 300)")
    parser.add_argument("--out", type=Path, help="where the pictures go (default: RUN/interpret)")
    args = parser.parse_args(argv)
    out = args.out or args.run / "interpret"
    try:
        explainer = interpret.from_run(args.run)
        if explainer.class_names is not None:
            texts, labels, predictions = evaluate.read_predictions(args.run / runs.PREDICTIONS)
    except (FileNotFoundError, ValueError, OfflineError) as e:
        sys.exit(f"error: {e}")
    out.mkdir(parents=True, exist_ok=True)
    print(f"explaining {args.run} with its best weights")
    if explainer.class_names is None:  # KantaiBERT
        for n, text in enumerate(args.texts or KANT_TEXTS, start=1):
            tokens, attention = explainer.attention(text)
            views.write_attention(out / f"attention_{n}.html", tokens, attention, title=f"text {n}: {text}")
            interpret.plot_attention(tokens, attention, out / f"attention_{n}.png", title=f"text {n}")
        print(f"attention views: {out}/")
        return
    names = explainer.class_names
    words = attributions.WordExplainer(explainer, args.shap_evals, args.lime_samples)

    for n, text in enumerate(args.texts or default_texts(texts, labels, predictions), start=1):
        try:
            tokens, attention = explainer.attention(text)  # (L, heads, T, T)
        except ValueError as e:
            sys.exit(f"error: text {n}: {e}")
        why = explainer.attributions(text, steps=args.steps)
        views.write_attention(out / f"attention_{n}.html", tokens, attention, title=f"text {n}: {text}")
        interpret.plot_attention(tokens, attention, out / f"attention_{n}.png", title=f"text {n}")
        head = quietest_head(tokens, attention)
        interpret.plot_head(tokens, attention[-1, head], out / f"head_{n}.png",
                            title=f"text {n}: layer {len(attention)}, head {head + 1}")
        interpret.plot_attributions(why, names, out / f"attributions_{n}.png")
        explained = [words.explain(method, text, why.label) for method in WORD_EXPLAINERS]
        interpret.plot_word_attributions(explained, names, out / f"words_{n}.png", title=f"text {n}")
        views.write_words(out / f"words_{n}.html", explained, names, title=f"text {n}: {text}")
        print(f"\ntext {n}: {text[:120]}")
        print(f"  predicted {names[why.label]} (p = {why.probabilities[why.label]:.2f}); integrated gradients per "
              f"token, delta {why.delta:+.3f}:")
        top = np.argsort(-np.abs(why.scores))[:8]
        print("  " + "  ".join(f"{why.tokens[i]} {why.scores[i]:+.2f}" for i in top))
        for a in explained:
            best = np.argsort(-a.scores)[:5]
            print(f"  {a.method:>20} ({a.seconds:.1f} s), top words: " + ", ".join(a.words[i] for i in best))

    chosen = slice(0, args.examples)
    features = explainer.features(texts[chosen])  # (N, H)
    points, explained = interpret.principal_components(features)
    interpret.plot_projection(points, explained, labels[chosen], names, out / "projection.png",
                              title=f"{args.run.name}: what the head reads, {len(features)} test texts")
    interpret.write_projector(out / "projector", features, texts[chosen], labels[chosen], names)
    print(f"\npictures, views and projector files: {out}/")


if __name__ == "__main__":
    main()

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
    projection.png       the head's input features on their two principal components, and with UMAP, by true class
    projector/           vectors.tsv + metadata.tsv for https://projector.tensorflow.org (PCA, t-SNE, UMAP)
    RUN/logs/projector/  the same, set up for TensorBoard's projector: `tensorboard --logdir runs`
With --probes (HF runs): probes.png, a linear probe's test accuracy layer by layer, the pretrained encoder
against the run's, and layers_NAME.png, each layer's features mapped; with --search WORD: exBERT's search, the
training texts' tokens nearest to WORD (in the first text) at --layer, in search_WORD_layerL.txt.
KantaiBERT runs get the attention files only: a masked language model has no classes to attribute.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from tfbert import cli, errors, evaluate, files, interpret, plots, runs
from tfbert.interpret import attributions, maps, probes, views
from tfbert.data import OfflineError
from tfbert.data.rows import decode_typed

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


@errors.command
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments.interpret", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("texts", nargs="*", help="texts to explain (default: one right and one wrong test text)")
    parser.add_argument("--run", type=Path, required=True,
                        help="an HF, scratch or KantaiBERT run directory, e.g. runs/agnews/hf_finetune")
    parser.add_argument("--examples", type=cli.positive_int, default=1000,
                        help="test texts in the projection (default: 1000)")
    parser.add_argument("--steps", type=cli.positive_int, default=50, help="integrated-gradients steps (default: 50)")
    parser.add_argument("--shap-evals", type=cli.positive_int, default=300,
                        help="SHAP's model evaluations per text (default: 300)")
    parser.add_argument("--lime-samples", type=cli.positive_int, default=300,
                        help="LIME's perturbed texts per text (default: 300)")
    parser.add_argument("--out", type=Path, help="where the pictures go (default: RUN/interpret)")
    group = parser.add_argument_group("layer by layer (HF runs; they read the run's training texts again)")
    group.add_argument("--probes", action="store_true",
                       help="a linear probe per layer, pretrained encoder against this run's, and each layer's map")
    group.add_argument("--probe-texts", type=cli.positive_int, default=2000,
                       help="training texts the probes learn from (2000)")
    group.add_argument("--search", metavar="WORD", help="exBERT's search: the training texts' tokens nearest to WORD "
                       "of the first text, in its context")
    group.add_argument("--layer", type=int, help="--search's layer (default: the last)")
    group.add_argument("--corpus-texts", type=cli.positive_int, default=1000,
                       help="training texts --search looks through (1000)")
    group.add_argument("--data-dir", type=Path, help="the run's data folder (default: the one its config.json names)")
    errors.add_debug_option(parser)
    args = parser.parse_args(argv)
    for n, text in enumerate(args.texts):  # the shell hands over bytes that are not UTF-8 as surrogates
        args.texts[n], problem = decode_typed(text.encode("utf-8", "surrogateescape"))
        if problem:
            print(f"warning: text {n + 1}: {problem}; explained with it replaced by \ufffd", file=sys.stderr)
    out = args.out or args.run / "interpret"
    try:
        explainer = interpret.from_run(args.run)
        if explainer.class_names is not None:
            texts, labels, predictions = evaluate.read_predictions(args.run / runs.PREDICTIONS)
    except (FileNotFoundError, ValueError, OfflineError) as e:
        sys.exit(f"error: {e}")
    cli.output_folder(out)
    print(f"explaining {args.run} with its best weights")
    if explainer.class_names is None:  # KantaiBERT
        for n, text in enumerate(args.texts or KANT_TEXTS, start=1):
            tokens, attention = explainer.attention(text)
            views.write_attention(out / f"attention_{n}.html", tokens, attention, title=f"text {n}: {text}")
            plots.plot_attention(tokens, attention, out / f"attention_{n}.png", title=f"text {n}")
        print(f"attention views: {out}/")
        return
    words = attributions.WordExplainer(explainer, args.shap_evals, args.lime_samples, steps=args.steps)
    for n, text in enumerate(args.texts or default_texts(texts, labels, predictions), start=1):
        explain_text(explainer, words, n, text, out)
    map_features(args, explainer, texts, labels, out)
    if args.probes or args.search:
        explain_layers(args, explainer, texts, labels, out)
    print(f"\npictures, views and projector files: {out}/")


def explain_text(explainer, words, n: int, text: str, out: Path):
    """Text `n`'s attention (views and pictures), integrated gradients per token, and every word explainer."""
    names = explainer.class_names
    try:
        tokens, attention = explainer.attention(text)  # (L, heads, T, T)
    except ValueError as e:
        sys.exit(f"error: text {n}: {e}")
    why = words.token_attribution(text)  # integrated gradients, once per text
    views.write_attention(out / f"attention_{n}.html", tokens, attention, title=f"text {n}: {text}")
    plots.plot_attention(tokens, attention, out / f"attention_{n}.png", title=f"text {n}")
    head = quietest_head(tokens, attention)
    plots.plot_head(tokens, attention[-1, head], out / f"head_{n}.png",
                    title=f"text {n}: layer {len(attention)}, head {head + 1}")
    plots.plot_attributions(why, names, out / f"attributions_{n}.png")
    explained = [words.explain(method, text, why.label) for method in WORD_EXPLAINERS]
    plots.plot_word_attributions(explained, names, out / f"words_{n}.png", title=f"text {n}")
    views.write_words(out / f"words_{n}.html", explained, names, title=f"text {n}: {text}")
    print(f"\ntext {n}: {text[:120]}")
    print(f"  predicted {names[why.label]} (p = {why.probabilities[why.label]:.2f}); integrated gradients per "
          f"token, delta {why.delta:+.3f}:")
    top = np.argsort(-np.abs(why.scores))[:8]
    print("  " + "  ".join(f"{why.tokens[i]} {why.scores[i]:+.2f}" for i in top))
    for a in explained:
        best = np.argsort(-a.scores)[:5]
        print(f"  {a.method:>20} ({a.seconds:.1f} s), top words: " + ", ".join(a.words[i] for i in best))


def map_features(args, explainer, texts, labels, out: Path):
    """What the head reads for the first --examples test texts: PCA and UMAP, projector files, TensorBoard's."""
    chosen, names = slice(0, args.examples), explainer.class_names
    features = explainer.features(texts[chosen])  # (N, H)
    points, explained = maps.principal_components(features)
    plots.plot_projection(points, explained, labels[chosen], names, out / "projection.png",
                          title=f"{args.run.name}: what the head reads, {len(features)} test texts",
                          umap=maps.umap_points(features))
    maps.write_projector(out / "projector", features, texts[chosen], labels[chosen], names)
    maps.write_tensorboard_projector(out, features, texts[chosen], labels[chosen], names)


def explain_layers(args, explainer, texts, labels, out):
    """--probes and --search: what each layer knows, read from the run's training texts."""
    if not isinstance(explainer, interpret.BertExplainer):
        sys.exit("error: --probes and --search need an HF run (hf_frozen, hf_finetune, CoLA's tuned)")
    try:
        data = interpret.run_data(args.run, args.data_dir)
    except (FileNotFoundError, ValueError, OfflineError) as e:
        sys.exit(f"error: {e}")
    names = explainer.class_names
    if args.probes:
        curves = {}
        train_texts, train_labels = data.train.texts[: args.probe_texts], data.train.labels[: args.probe_texts]
        test_texts, test_labels = texts[: args.examples], labels[: args.examples]
        for name, model in (("pretrained", interpret.BertExplainer.pretrained(args.run)), (args.run.name, explainer)):
            test_layers = probes.layer_features(model, test_texts)  # (L + 1, N, H)
            curves[name] = probes.probe_accuracy(probes.layer_features(model, train_texts), train_labels,
                                                 test_layers, test_labels)
            plots.plot_layer_projections(test_layers, test_labels, names, out / f"layers_{name}.png",
                                     title=f"{name}: {len(test_texts)} test texts, mean-pooled, layer by layer")
            print(f"\nlinear probe by layer, {name}: " + "  ".join(f"{a:.3f}" for a in curves[name]))
        plots.plot_probes(curves, out / "probes.png", title=f"{len(train_texts)} training texts, "
                          f"{len(test_texts)} test texts")
    if args.search:
        text = (args.texts or default_texts(texts, labels, labels))[0]
        words = [word.strip(".,;:!?'\"()").lower() for word in text.split()]
        if args.search.lower() not in words:
            sys.exit(f"error: --search {args.search!r} is not a word of the text {text[:80]!r}")
        layer = explainer.bert.config.num_hidden_layers if args.layer is None else args.layer
        corpus = data.train.texts[: args.corpus_texts]
        path = out / f"index_layer{layer}_{len(corpus)}texts.npz"  # built once per run, layer and corpus
        if path.exists():
            index = probes.TokenIndex.load(path)
        else:
            index = probes.TokenIndex.build(explainer, corpus, layer)
            with files.atomic(path) as tmp:
                index.save(tmp)
        token, matches = index.nearest(explainer, text, words.index(args.search.lower()))
        lines = [f"layer {layer}: the {len(matches)} tokens of {len(corpus)} training texts nearest to {token!r} "
                 f"in {text[:80]!r}"] + [f"{m.cosine:.3f}  {m.context()}" for m in matches]
        files.write_text(out / f"search_{args.search}_layer{layer}.txt", "\n".join(lines) + "\n")
        print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()

"""Look inside a trained classifier: attention per layer and head, token attributions, a map of its features.

    explainer = interpret.from_run("runs/agnews/hf_finetune")                     # or runs/agnews/scratch
    tokens, attention = explainer.attention("Stocks rally as oil prices fall")      # (L, heads, T, T)
    why = explainer.attributions("Stocks rally as oil prices fall")                # why.scores: (T,)
    interpret.plot_attention(tokens, attention, "attention.png")

Attributions are integrated gradients (Sundararajan et al., 2017) of the predicted class's logit with
respect to the word embeddings, from a baseline (BERT: [CLS] and [SEP] kept, [PAD] everywhere else; the
from-scratch model: zero vectors, positions kept); they sum to logit(text) - logit(baseline), up to
`delta`, the error of the integral's `steps`-point estimate. The features mapped in 2-D are what the
classifier's head reads (BERT's pooled output; the scratch model's mean-pooled block output), projected
on their two principal components.

HF runs (`hf_frozen`, `hf_finetune`, CoLA's `tuned`) and the from-scratch AG News model (`scratch`, one
Transformer block: L = 1). Not TF-Hub runs: their encoder SavedModels return no attention and take ids,
not embeddings.
"""
import dataclasses
from pathlib import Path

import numpy as np

from tfbert import encoders, evaluate, runs
from tfbert.data import pipeline
from tfbert.data.wordpiece import read_vocab
from tfbert.keras import keras, tf
from tfbert.models import bert, scratch
from tfbert.models.classifier import Classifier


@dataclasses.dataclass
class Attribution:
    tokens: list[str]  # T tokens: WordPiece's [CLS] ... [SEP], or the scratch model's words
    scores: np.ndarray  # (T,) each token's share of logit(text) - logit(baseline)
    label: int  # the class explained
    probabilities: np.ndarray  # (C,)
    delta: float  # sum(scores) - (logit(text) - logit(baseline)): near 0 when `steps` suffice


def integrated_gradients(logits, embeddings, baseline, tokens, label=None, steps=50) -> Attribution:
    """Integrated gradients of class `label`'s logit (default: the predicted class) for each token.

    Args:
        logits: (S, T, H) embeddings -> (S, C) logits, the classifier from its embedding lookup on.
        embeddings, baseline: (1, T, H) the text's word embeddings and the baseline's.
        tokens: the T tokens, for the result.
    """
    text_logits = logits(embeddings)[0]  # (C,)
    label = int(tf.argmax(text_logits)) if label is None else label
    alphas = (tf.range(steps, dtype=tf.float32) + 0.5) / steps  # (S,) midpoints of the path
    path = baseline + alphas[:, None, None] * (embeddings - baseline)  # (S, T, H)
    with tf.GradientTape() as tape:
        tape.watch(path)
        target = logits(path)[:, label]  # (S,)
    gradients = tape.gradient(target, path)  # (S, T, H)
    scores = tf.reduce_sum(tf.reduce_mean(gradients, axis=0) * (embeddings - baseline)[0], axis=-1)  # (T,)
    gap = text_logits[label] - logits(baseline)[0, label]
    return Attribution(tokens, scores.numpy(), label, tf.nn.softmax(text_logits).numpy(), float(tf.reduce_sum(scores) - gap))


def features_in_length_order(features_model, ids, batch_size=64) -> np.ndarray:
    """(N, None) ragged ids -> (N, H) `features_model` outputs in file order, computed in batches of similar lengths."""
    order = evaluate.by_length(ids.row_lengths().numpy())
    batches = pipeline.eval_batches(ids, np.zeros(ids.nrows(), np.int32), batch_size, order=order)
    return evaluate.predict_in_order(features_model, batches, order)


def probabilities_in_batches(model, dense, texts, batch_size) -> np.ndarray:
    """(N, C) softmax of `model`'s logits for N texts, `batch_size` at a time in file order; `dense` turns a chunk
    of texts into (B, T) ids."""
    return np.concatenate([tf.nn.softmax(model(dense(texts[i:i + batch_size]))).numpy()
                           for i in range(0, len(texts), batch_size)])


def from_run(run_dir):
    """The explainer of a run directory: `ScratchExplainer` for the from-scratch model, `MaskedLMExplainer` for a
    KantaiBERT run (attention only: it has no classes), else `Explainer` (HF)."""
    config = runs.read_config(run_dir)
    if config.experiment == "kantaibert":
        return MaskedLMExplainer.from_run(run_dir)
    return (ScratchExplainer if config.variant == "scratch" else Explainer).from_run(run_dir)


def run_data(run_dir, data_dir=None):
    """The texts a classifier run was trained and tested on, loaded again from `data_dir` (default: the folder its
    config.json names) and split as the run split them."""
    from tfbert.data import ag_news, cola

    config = runs.read_config(run_dir)
    source = str(data_dir or config.data.get("source", ""))
    online = source.startswith("tfds:")
    if not online and not Path(source).is_dir():
        raise FileNotFoundError(f"{run_dir} was trained on {source!r}, which is not a folder here: pass --data-dir")
    loader = {"agnews": ag_news, "cola": cola}[config.experiment]
    return loader.load(None if online else source, offline=not online,
                       validation_fraction=config.args.get("validation_fraction", 0.1))


class Explainer:
    """A `TFBertForSequenceClassification` and its vocabulary, asked about one text at a time.

    Args:
        classifier: an HF classifier (`models.bert.hf_classifier`), which holds the HF model; its
            preprocessor the checkpoint's WordPiece.
        vocab_file: the checkpoint's vocab.txt.
        class_names: the C class names, in label order.
    """

    def __init__(self, classifier: Classifier, vocab_file, class_names):
        self.hf = next(layer for layer in classifier.model.layers if hasattr(layer, "bert"))  # the HF model
        self.classifier, self.class_names = classifier, list(class_names)
        self.wordpiece = classifier.preprocessor  # the checkpoint's WordPiece, cased or not as it was trained
        self.vocab = read_vocab(vocab_file)

    @classmethod
    def from_run(cls, run_dir):
        """The best weights of a trained HF run directory (config.json and best/ written by `finetune.run`)."""
        explainer = cls.pretrained(run_dir)
        trainable = runs.read_config(run_dir).recipe["trainable"]
        trained = explainer.classifier.model if trainable else explainer.classifier.head  # what `finetune.run` trained
        status = trained.load_weights(str(Path(run_dir) / runs.BEST_WEIGHTS))
        status.assert_existing_objects_matched().expect_partial()  # every weight restored; the optimizer is not wanted
        return explainer

    @classmethod
    def pretrained(cls, run_dir):
        """The run's model as it was before training (the pretrained encoder, a random head): what its layers
        knew beforehand."""
        config = runs.read_config(run_dir)
        recipe = config.recipe or {}
        if recipe.get("family") != "hf":
            raise ValueError(f"{run_dir} is a {config.variant or 'non-BERT'} run; interpretation needs an HF "
                             "run (hf_frozen, hf_finetune, CoLA's tuned) or the scratch model: TF-Hub encoders "
                             "return no attention")
        encoder = encoders.resolve(recipe["encoder"], families=("hf",))
        classifier = bert.hf_classifier(encoder, len(config.class_names), recipe["trainable"], recipe["max_length"])
        return cls(classifier, encoder.vocab_file, config.class_names)

    text_tokens = (1, -1)  # the text's tokens, between [CLS] and [SEP]

    def ids(self, text: str) -> tf.Tensor:
        return tf.cast(self.wordpiece(tf.constant([text])), tf.int32).to_tensor()  # (1, T), no padding

    def counts(self, words) -> list[int]:
        """WordPiece tokens of each word (BERT splits a text at whitespace first: its tokens are its words')."""
        pieces = self.wordpiece.tokenizer.tokenize(tf.constant(words)).merge_dims(-2, -1)  # (W, None)
        return pieces.row_lengths().numpy().tolist()

    def probabilities(self, texts, batch_size=64) -> np.ndarray:
        """(N, C) class probabilities for N raw texts (an empty one is [CLS] [SEP])."""
        return probabilities_in_batches(self.classifier.model, lambda chunk: self.wordpiece.dense(tf.constant(chunk)),
                                        texts, batch_size)

    def tokens(self, ids) -> list[str]:
        return [self.vocab[i] for i in np.asarray(ids).reshape(-1)]

    def attention(self, text: str):
        """(tokens, (L, heads, T, T) attention weights): row i is how token i spreads its attention."""
        ids = self.ids(text)
        outputs = self.hf.bert(input_ids=ids, output_attentions=True, training=False)
        return self.tokens(ids), tf.concat(outputs.attentions, axis=0).numpy()  # L x (1, heads, T, T)

    def logits(self, embeddings, mask) -> tf.Tensor:
        """(B, T, H) word embeddings, (B, T) mask -> (B, C) logits: the classifier from its embedding lookup on."""
        return self.hf(None, inputs_embeds=embeddings, attention_mask=mask, training=False).logits

    def attributions(self, text: str, label=None, steps=50) -> Attribution:
        """Integrated gradients of class `label`'s logit (default: the predicted class) for each token."""
        ids = self.ids(text)  # (1, T)
        table = self.hf.bert.embeddings.weight  # (V, H)
        special = tf.logical_or(tf.equal(ids, self.wordpiece.cls_id), tf.equal(ids, self.wordpiece.sep_id))
        baseline_ids = tf.where(special, ids, self.wordpiece.pad_id)  # [CLS] [PAD] ... [PAD] [SEP]
        mask = tf.ones_like(ids)  # (1, T)
        logits = lambda embeddings: self.logits(embeddings, tf.repeat(mask, len(embeddings), axis=0))  # noqa: E731
        return integrated_gradients(logits, tf.gather(table, ids), tf.gather(table, baseline_ids), self.tokens(ids),
                                    label, steps)

    def features(self, texts, batch_size=64) -> np.ndarray:
        """(N, H) what the head reads, BERT's pooled output, for each text (batches of similar lengths)."""
        ids = tf.cast(self.wordpiece(tf.constant(texts)), tf.int32)  # (N, None)
        return features_in_length_order(self.classifier.features, ids, batch_size)


class ScratchExplainer:
    """The from-scratch Transformer of `experiments.agnews` (model.keras, vocab.txt), asked about one text at a time.

    Args:
        model: a `models.scratch.build_classifier` model with its trained weights.
        vocabulary: its TextVectorization's vocabulary ('' and '[UNK]' first, as vocab.txt holds it).
        class_names: the C class names, in label order.
        config: its `ScratchConfig` (max_length cuts texts as in training).
    """

    def __init__(self, model, vocabulary, class_names, config: scratch.ScratchConfig):
        self.vocab, self.class_names, self.config = list(vocabulary), list(class_names), config
        self.embedding, self.layers = model.get_layer("embedding"), scratch.layers_of(model)
        self.vectorizer = keras.layers.TextVectorization(vocabulary=self.vocab, ragged=True)
        self.features_model = keras.Model(model.input, model.get_layer("pooling").output)  # ids -> (B, D)
        self.model = model

    @classmethod
    def from_run(cls, run_dir):
        """The model a finished `scratch` run saved (model.keras holds its best weights) and its vocabulary."""
        run_dir = Path(run_dir)
        config = runs.read_config(run_dir)
        model = keras.models.load_model(str(run_dir / "model.keras"), compile=False)
        return cls(model, read_vocab(run_dir / "vocab.txt"), config.class_names, scratch.ScratchConfig(**config.model))

    def ids(self, text: str) -> tf.Tensor:
        ids = scratch.encode(self.vectorizer, [text], self.config).to_tensor()  # (1, T)
        if ids.shape[1] == 0:
            raise ValueError(f"{text!r} has no words to explain (punctuation and spaces are dropped)")
        return ids

    def tokens(self, ids) -> list[str]:
        return [self.vocab[i] for i in np.asarray(ids).reshape(-1)]

    text_tokens = (0, 0)  # no special tokens

    def counts(self, words) -> list[int]:
        """Tokens of each word: 1, or 0 for a word of punctuation only (the vectorizer strips punctuation)."""
        return scratch.encode(self.vectorizer, words, self.config).row_lengths().numpy().tolist()

    def probabilities(self, texts, batch_size=64) -> np.ndarray:
        """(N, C) class probabilities for N raw texts (one without words is a single padding token)."""
        def dense(chunk):  # (B, T) ids, padded to the longest text, at least one column
            ids = scratch.encode(self.vectorizer, chunk, self.config)
            return ids.to_tensor(shape=[None, max(1, int(tf.reduce_max(ids.row_lengths())))])

        return probabilities_in_batches(self.model, dense, texts, batch_size)

    def attention(self, text: str):
        """(tokens, (1, heads, T, T) attention weights of the one Transformer block)."""
        ids = self.ids(text)
        _, scores = self.layers["block"](self.embedding(ids), padding_mask=tf.ones_like(ids, tf.bool),
                                         return_attention_scores=True)  # (1, heads, T, T)
        return self.tokens(ids), scores.numpy()

    def logits(self, word_embeddings) -> tf.Tensor:
        """(B, T, D) word embeddings (positions not added) -> (B, C) logits; no padding."""
        mask = tf.ones(tf.shape(word_embeddings)[:2], tf.bool)  # (B, T)
        embeddings = word_embeddings + self.embedding.positions(tf.shape(word_embeddings)[1])  # (B, T, D)
        return scratch.head(self.layers, scratch.pool(self.layers, embeddings, mask))

    def attributions(self, text: str, label=None, steps=50) -> Attribution:
        """Integrated gradients of class `label`'s logit (default: the predicted class) for each word."""
        ids = self.ids(text)  # (1, T)
        embeddings = self.embedding.token_embedding(ids)  # (1, T, D)
        return integrated_gradients(self.logits, embeddings, tf.zeros_like(embeddings), self.tokens(ids), label, steps)

    def features(self, texts, batch_size=64) -> np.ndarray:
        """(N, D) what the head reads, the mean-pooled block output, for each text (batches of similar lengths)."""
        return features_in_length_order(self.features_model, scratch.encode(self.vectorizer, texts, self.config),
                                        batch_size)


class MaskedLMExplainer:
    """A KantaiBERT run's RoBERTa (`model/`, written by `save_pretrained`) and its byte-level BPE tokenizer, asked
    where its attention goes (a masked language model has no classes to attribute)."""

    class_names = None

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer

    @classmethod
    def from_run(cls, run_dir):
        from transformers import TFRobertaForMaskedLM

        from tfbert.data import bpe

        folder = Path(run_dir) / "model"
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"{folder} holds no saved model: the run has not finished")
        return cls(TFRobertaForMaskedLM.from_pretrained(str(folder)), bpe.load_roberta(folder))

    def attention(self, text: str):
        """(tokens, (L, heads, T, T) attention weights); `Ġ` marks a token that starts with a space."""
        encoded = self.tokenizer(text, return_tensors="tf", truncation=True,
                                 max_length=self.model.config.max_position_embeddings - 2)
        outputs = self.model.roberta(encoded["input_ids"], attention_mask=encoded["attention_mask"],
                                     output_attentions=True, training=False)
        tokens = self.tokenizer.convert_ids_to_tokens(encoded["input_ids"][0].numpy().tolist())
        return tokens, tf.concat(outputs.attentions, axis=0).numpy()  # L x (1, heads, T, T)


def principal_components(features, k=2):
    """(N, H) -> ((N, k) coordinates on the top `k` principal components, (k,) share of variance of each)."""
    centered = features - features.mean(axis=0)
    _, singular, directions = np.linalg.svd(centered, full_matrices=False)
    return centered @ directions[:k].T, singular[:k] ** 2 / np.sum(singular ** 2)


def write_projector(folder, features, texts, labels, class_names):
    """vectors.tsv and metadata.tsv: load both at https://projector.tensorflow.org (or TensorBoard's projector)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with runs.atomic(folder / "vectors.tsv") as tmp:
        np.savetxt(tmp, features, delimiter="\t", fmt="%.5f")
    lines = [f"{class_names[label]}\t{' '.join(text.split())[:200]}\n" for text, label in zip(texts, labels)]
    runs.write_text(folder / "metadata.tsv", "class\ttext\n" + "".join(lines))  # a line per text: no tabs or newlines


def write_tensorboard_projector(run_dir, features, texts, labels, class_names) -> Path:
    """The features, their texts and classes as a run of TensorBoard's Embedding Projector, in the run's log
    directory (RUN/logs/projector): `tensorboard --logdir runs` shows them (PCA, t-SNE, UMAP) beside the training
    curves. Returns the folder."""
    from tensorboard.plugins import projector

    folder = Path(run_dir) / "logs" / "projector"
    write_projector(folder, features, texts, labels, class_names)
    writer = tf.summary.create_file_writer(str(folder))  # an event file: TensorBoard lists a folder that has one
    writer.flush()
    writer.close()
    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name, embedding.tensor_path, embedding.metadata_path = "features", "vectors.tsv", "metadata.tsv"
    projector.visualize_embeddings(str(folder), config)  # projector_config.pbtxt
    return folder


def plot_attention(tokens, attention, path, title=""):
    """A grid of heat maps, a row per layer and a column per head; token i's row shows where it attends."""
    import matplotlib.pyplot as plt

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
    runs.save_figure(fig, path)


def plot_head(tokens, weights, path, title=""):
    """One head's (T, T) attention with the tokens on both axes."""
    import matplotlib.pyplot as plt

    size = 2 + 0.25 * len(tokens)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(weights, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=8)
    ax.set_yticks(range(len(tokens)), tokens, fontsize=8)
    ax.set_xlabel("attended to")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    runs.save_figure(fig, path)


def plot_attributions(attribution: Attribution, class_names, path):
    """Bars per token: green pushed towards the explained class, red away from it."""
    import matplotlib.pyplot as plt

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
    runs.save_figure(fig, path)


def plot_word_attributions(attributions, class_names, path, title=""):
    """One panel per explainer (`attributions.WordAttribution`s of one text), bars per word, each panel scaled to
    its largest score: red pushed toward the explained class, blue away."""
    import matplotlib.pyplot as plt

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
    runs.save_figure(fig, path)


def umap_points(features, seed=0):
    """(N, H) -> (N, 2) UMAP coordinates (McInnes et al. 2018: neighbourhoods kept, distances between far clusters
    not), or None for fewer than 10 texts, too few for its neighbourhood graph."""
    if len(features) < 10:
        return None
    import umap

    return umap.UMAP(n_components=2, n_neighbors=min(15, len(features) - 1), random_state=seed).fit_transform(features)


def plot_projection(points, explained, labels, class_names, path, title="", umap=None):
    """(N, 2) principal-component coordinates, one colour per true class; beside them the (N, 2) UMAP ones if given."""
    import matplotlib.pyplot as plt

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
    runs.save_figure(fig, path)

"""The explainers: one per kind of run, each answering the questions of `Explainer` about one text at a time."""
import dataclasses
from pathlib import Path
from typing import Protocol

import numpy as np

from tfbert import encoders, evaluate, runs
from tfbert.data.wordpiece import read_vocab
from tfbert.keras import keras, tf
from tfbert.layers import MaskedMeanPooling
from tfbert.models import scratch
from tfbert.models.classifier import Classifier


@dataclasses.dataclass
class Attribution:
    tokens: list[str]  # T tokens: WordPiece's [CLS] ... [SEP], or the scratch model's words
    scores: np.ndarray  # (T,) each token's share of logit(text) - logit(baseline)
    label: int  # the class explained
    probabilities: np.ndarray  # (C,)
    delta: float  # sum(scores) - (logit(text) - logit(baseline)): near 0 when `steps` suffice


class Explainer(Protocol):
    """What every classifier explainer answers (`BertExplainer`, `ScratchExplainer`); a masked language model's
    (`MaskedLMExplainer`) answers `attention` only, and has `class_names = None`.

    class_names: the C class names, in label order.
    specials: how many tokens stand before and after a text's own tokens ([CLS] and [SEP]: (1, 1)).
    """
    class_names: list
    specials: tuple[int, int]

    def probabilities(self, texts, batch_size=64) -> np.ndarray:
        """(N, C) class probabilities for N raw texts."""

    def attention(self, text: str) -> tuple[list, np.ndarray]:
        """(T tokens, (L, heads, T, T) attention weights): row i is how token i spreads its attention."""

    def attributions(self, text: str, label=None, steps=50) -> Attribution:
        """Integrated gradients of class `label`'s logit (default: the predicted class) for each token."""

    def features(self, texts, batch_size=64) -> np.ndarray:
        """(N, H) what the head reads, for each text."""

    def counts(self, words) -> list[int]:
        """The tokens each word becomes (0 for a word the tokenizer drops)."""


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


def probabilities_in_batches(model, dense, texts, batch_size) -> np.ndarray:
    """(N, C) softmax of `model`'s logits for N texts, `batch_size` at a time in file order; `dense` turns a chunk
    of texts into (B, T) ids."""
    return np.concatenate([tf.nn.softmax(model(dense(texts[i:i + batch_size]))).numpy()
                           for i in range(0, len(texts), batch_size)])


def from_run(run_dir):
    """The explainer of a run directory: `ScratchExplainer` for the from-scratch model, `MaskedLMExplainer` for a
    KantaiBERT run (attention only: it has no classes), else `BertExplainer` (HF)."""
    config = runs.read_config(run_dir)
    if config.experiment == "kantaibert":
        return MaskedLMExplainer.from_run(run_dir)
    return (ScratchExplainer if config.variant == "scratch" else BertExplainer).from_run(run_dir)


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
                       validation_fraction=(config.recipe or {}).get("validation_fraction", 0.1))  # the run's spec


class BertExplainer:
    """An HF BERT classifier (`classify`'s `hf` family) and its vocabulary, asked about one text at a time.

    Args:
        classifier: the run's `models.classifier.Classifier`; its network holds HF's main layer ("bert"), its
            preprocessor is the checkpoint's WordPiece.
        vocab_file: the checkpoint's vocab.txt.
        class_names: the C class names, in label order.
        pooling: what the head reads: "pooled" (BERT's pooled output) or "mean" (the masked mean of the tokens).
    """

    def __init__(self, classifier: Classifier, vocab_file, class_names, pooling="pooled"):
        self.bert = classifier.network.get_layer("bert")  # HF's TFBertMainLayer
        self.classifier, self.class_names, self.pooling = classifier, list(class_names), pooling
        self.wordpiece = classifier.preprocessor  # the checkpoint's WordPiece, cased or not as it was trained
        self.vocab = read_vocab(vocab_file)

    @classmethod
    def from_run(cls, run_dir):
        """The best weights of a trained HF run directory (config.json and best/ written by `classify.run`); or of a
        kerashub run, whose trained backbone HF's BERT reads from its hf_checkpoint/ (the same network, exact GELU
        in both) and whose head weights fit HF's classifier layer."""
        if runs.read_config(run_dir).recipe.get("family") == "kerashub":
            return cls.from_kerashub_run(run_dir)
        explainer = cls.pretrained(run_dir)
        trainable = runs.read_config(run_dir).recipe["trainable"]
        trained = explainer.classifier.model if trainable else explainer.classifier.head  # what `classify.run` trained
        status = trained.load_weights(str(Path(run_dir) / runs.BEST_WEIGHTS))
        status.assert_existing_objects_matched().expect_partial()  # every weight restored; the optimizer is not wanted
        return explainer

    @classmethod
    def from_kerashub_run(cls, run_dir):
        from tfbert import classify

        config, checkpoint = runs.read_config(run_dir), Path(run_dir) / "hf_checkpoint"
        if not (checkpoint / "model.safetensors").is_file():
            raise FileNotFoundError(f"{checkpoint} is missing: the run did not finish (start its command again)")
        recipe = classify.Recipe(**{**config.recipe, "family": "hf", "backend": None, "encoder": str(checkpoint)})
        encoder = encoders.resolve(recipe.encoder, families=("hf",))
        classifier = classify.build(recipe, encoder, len(config.class_names))
        with np.load(checkpoint / "head.npz") as head:
            classifier.head.set_weights([head[f"arr_{i}"] for i in range(len(head.files))])
        return cls(classifier, encoder.vocab_file, config.class_names, recipe.pooling)

    @classmethod
    def pretrained(cls, run_dir):
        """The run's model as it was before training (the pretrained encoder, a random head): what its layers
        knew beforehand."""
        from tfbert import classify

        config = runs.read_config(run_dir)
        recipe = dict(config.recipe or {})
        if recipe.get("family") == "kerashub":  # its pretrained encoder, read by HF's BERT
            recipe.update(family="hf", backend=None)
        if recipe.get("family") != "hf":
            raise ValueError(f"{run_dir} is a {config.variant or 'non-BERT'} run; interpretation needs an HF "
                             "or KerasHub run (hf_*, kh_*, CoLA's tuned and kh_tuned) or the scratch model: TF-Hub encoders "
                             "return no attention")
        recipe = classify.Recipe(**recipe)
        encoder = encoders.resolve(recipe.encoder, families=("hf",))
        classifier = classify.build(recipe, encoder, len(config.class_names))
        return cls(classifier, encoder.vocab_file, config.class_names, recipe.pooling)

    specials = (1, 1)  # [CLS] before the text's tokens, [SEP] after

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
        outputs = self.bert(input_ids=ids, output_attentions=True, training=False)
        return self.tokens(ids), tf.concat(outputs.attentions, axis=0).numpy()  # L x (1, heads, T, T)

    def hidden_states(self, ids, mask) -> tf.Tensor:
        """(B, T) ids, (B, T) mask -> (L + 1, B, T, H): the embedding output and every encoder layer's."""
        outputs = self.bert(input_ids=ids, attention_mask=mask, output_hidden_states=True, training=False)
        return tf.stack(outputs.hidden_states)

    def logits(self, embeddings, mask) -> tf.Tensor:
        """(B, T, H) word embeddings, (B, T) mask -> (B, C) logits: the classifier from its embedding lookup on."""
        outputs = self.bert(None, inputs_embeds=embeddings, attention_mask=mask, training=False)
        features = outputs.pooler_output if self.pooling == "pooled" else \
            MaskedMeanPooling()(outputs.last_hidden_state, mask)  # (B, H)
        return self.classifier.head(features, training=False)

    def attributions(self, text: str, label=None, steps=50) -> Attribution:
        """Integrated gradients of class `label`'s logit (default: the predicted class) for each token."""
        ids = self.ids(text)  # (1, T)
        table = self.bert.embeddings.weight  # (V, H)
        special = tf.logical_or(tf.equal(ids, self.wordpiece.cls_id), tf.equal(ids, self.wordpiece.sep_id))
        baseline_ids = tf.where(special, ids, self.wordpiece.pad_id)  # [CLS] [PAD] ... [PAD] [SEP]
        mask = tf.ones_like(ids)  # (1, T)
        logits = lambda embeddings: self.logits(embeddings, tf.repeat(mask, len(embeddings), axis=0))  # noqa: E731
        return integrated_gradients(logits, tf.gather(table, ids), tf.gather(table, baseline_ids), self.tokens(ids),
                                    label, steps)

    def features(self, texts, batch_size=64) -> np.ndarray:
        """(N, H) what the head reads, BERT's pooled output, for each text (batches of similar lengths)."""
        ids = tf.cast(self.wordpiece(tf.constant(texts)), tf.int32)  # (N, None)
        return evaluate.predict_by_length(self.classifier.features, ids, batch_size)


class ScratchExplainer:
    """The from-scratch Transformer of `experiments.agnews` (model.keras, vocab.txt), asked about one text at a time.

    Args:
        model: the run's classifier (ids -> logits) with its trained weights: the `models.scratch` network, then
            its head.
        vocabulary: its TextVectorization's vocabulary ('' and '[UNK]' first, as vocab.txt holds it).
        class_names: the C class names, in label order.
        config: its `ScratchConfig` (max_length cuts texts as in training).
    """

    def __init__(self, model, vocabulary, class_names, config: scratch.ScratchConfig):
        self.vocab, self.class_names, self.config = list(vocabulary), list(class_names), config
        network, self.head = model.get_layer("scratch_transformer"), model.get_layer("head")
        self.embedding, self.block, self.pooling = (network.get_layer(name) for name in ("embedding", "block",
                                                                                          "pooling"))
        self.vectorizer = keras.layers.TextVectorization(vocabulary=self.vocab, ragged=True)
        self.features_model = keras.Model(network.inputs, self.pooling.output)  # ids -> (B, D)
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

    specials = (0, 0)  # no special tokens

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
        _, scores = self.block(self.embedding(ids), padding_mask=tf.ones_like(ids, tf.bool),
                                         return_attention_scores=True)  # (1, heads, T, T)
        return self.tokens(ids), scores.numpy()

    def logits(self, word_embeddings) -> tf.Tensor:
        """(B, T, D) word embeddings (positions not added) -> (B, C) logits; no padding."""
        mask = tf.ones(tf.shape(word_embeddings)[:2], tf.bool)  # (B, T)
        embeddings = word_embeddings + self.embedding.positions(tf.shape(word_embeddings)[1])  # (B, T, D)
        hidden = self.block(embeddings, padding_mask=mask, training=False)  # (B, T, D); embedding dropout: off
        return self.head(self.pooling(hidden, padding_mask=mask), training=False)  # (B, C)

    def attributions(self, text: str, label=None, steps=50) -> Attribution:
        """Integrated gradients of class `label`'s logit (default: the predicted class) for each word."""
        ids = self.ids(text)  # (1, T)
        embeddings = self.embedding.token_embedding(ids)  # (1, T, D)
        return integrated_gradients(self.logits, embeddings, tf.zeros_like(embeddings), self.tokens(ids), label, steps)

    def features(self, texts, batch_size=64) -> np.ndarray:
        """(N, D) what the head reads, the mean-pooled block output, for each text (batches of similar lengths)."""
        return evaluate.predict_by_length(self.features_model, scratch.encode(self.vectorizer, texts, self.config),
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


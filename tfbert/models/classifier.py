"""One classifier over any encoder, as keras-hub and official/nlp build it: preprocessor -> encoder -> head.

    adapter = bert.hf_adapter(encoder, num_classes=4, trainable=True)   # or bert.hub_adapter, scratch.adapter
    classifier = models.classifier.classifier(adapter, num_classes=4, pooling="pooled")
    ids = classifier.ids(texts)                    # (N, None) ragged ids: TF ops on the host, before the model
    logits = classifier.model(ids.to_tensor())     # (N, C): numbers in, no string op in a trained model
    serving.export(classifier, path, class_names)  # the raw-string SavedModel: the preprocessor joined to the model

Every encoder (a TF-Hub export, HF BERT, the from-scratch Transformer) comes as an `EncoderAdapter`: a
preprocessor from strings to ids, and a Keras model from (B, T) ids, 0 = padding, to named outputs,
`{"sequence_output": (B, T, H), "pooled_output": (B, H), "padding_mask": (B, T)}`. `classifier` pools
one of them and puts the head on top; the three models it returns share their layers.
"""
import dataclasses
from typing import Callable

from tfbert.keras import keras, tf
from tfbert.layers import MaskedMeanPooling

POOLINGS = ("mean", "pooled")  # masked mean of sequence_output, or the encoder's pooled_output


@dataclasses.dataclass
class EncoderAdapter:
    """An encoder in the shape `classifier` takes.

    preprocessor: (B,) strings -> (B, None) ragged ids (a tf.Module: its tables are saved with a SavedModel).
    network: (B, T) ids -> {"sequence_output", "pooled_output", "padding_mask"}.
    head: (num_classes, width) -> a (B, width) -> (B, num_classes) float32 logits model, when the encoder comes
        with its own (HF's classification layers, the keras-io model's); None: `dense_head`.
    """
    preprocessor: tf.Module | None
    network: keras.Model
    head: Callable[[int, int], keras.Model] | None = None


@dataclasses.dataclass
class Classifier:
    preprocessor: tf.Module  # (B,) strings -> (B, None) ragged token ids, 0 = padding; its tables saved with it
    model: keras.Model  # (B, T) ids -> (B, C) logits
    features: keras.Model  # (B, T) ids -> (B, H), what the head reads
    head: keras.Model  # (B, H) -> (B, C) logits
    network: keras.Model | None = None  # the encoder's (B, T) ids -> named outputs

    @property
    def dtype(self) -> tf.DType:
        return self.model.inputs[0].dtype

    def ids(self, texts, chunk=1024) -> tf.RaggedTensor:
        """(N,) strings -> (N, None) ids of the model's input type, `chunk` texts at a time."""
        texts = list(texts)
        pieces = [tf.cast(self.preprocessor(tf.constant(texts[i: i + chunk])), self.dtype)
                  for i in range(0, len(texts), chunk)]
        return tf.concat(pieces, axis=0)

    def tokenize(self, texts) -> tf.Tensor:
        """(B,) strings -> (B, T) ids padded with 0 to the longest: the raw-string SavedModel's first step."""
        return tf.cast(self.preprocessor(texts), self.dtype).to_tensor()


def dense_head(num_classes: int, width: int, dropout=0.1, seed=0, name="head") -> keras.Model:
    """(B, width) -> dropout -> (B, num_classes) float32 logits (under a mixed policy too: the softmax and the loss
    stay float32)."""
    features = keras.Input((width,), name="features")
    hidden = keras.layers.Dropout(dropout, seed=seed)(features)
    return keras.Model(features, keras.layers.Dense(num_classes, dtype="float32", name="logits")(hidden), name=name)


def classifier(adapter: EncoderAdapter, num_classes: int, pooling="pooled", dropout=0.1, seed=0) -> Classifier:
    """ids -> `adapter.network` -> pooling ("pooled": its pooled_output; "mean": the masked mean of its
    sequence_output) -> the head (the adapter's own, else dropout -> dense) -> logits."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    network = adapter.network
    ids = keras.Input(shape=(None,), dtype=network.inputs[0].dtype, name=network.inputs[0].name)  # (B, T)
    outputs = network(ids)
    if pooling == "pooled":
        features = outputs["pooled_output"]  # (B, H)
    else:
        features = MaskedMeanPooling()(outputs["sequence_output"], outputs["padding_mask"])  # (B, H)
    width = features.shape[-1]
    head = adapter.head(num_classes, width) if adapter.head else dense_head(num_classes, width, dropout, seed)
    return Classifier(adapter.preprocessor, keras.Model(ids, head(features), name="classifier"),
                      keras.Model(ids, features, name="features"), head, network)


class Family:
    """How `classify.run` gets one kind of encoder (a `Recipe`'s `family`): a subclass per kind, registered in
    `classify.FAMILIES`. Everything that differs between kinds lives in its subclass."""
    pretrained = True  # config.json names the recipe's encoder

    def describe(self, recipe) -> str:
        """How tables name the model: "ENCODER via `via`[, mean pooling], fine-tuned|frozen"."""
        pooling = ", mean pooling" if recipe.pooling == "mean" else ""
        return f"{recipe.encoder} via {self.via(recipe)}{pooling}, {'fine-tuned' if recipe.trainable else 'frozen'}"

    def via(self, recipe) -> str:
        """What `describe` says the encoder runs through."""
        raise NotImplementedError

    def check(self, recipe):
        """Fails at once (ValueError, OfflineError) if the recipe's encoder cannot be had from here."""

    def prepare(self, recipe, data, cache, compute):
        """What `adapter` needs, made before the run is seeded (an export, a vocabulary adapted on `data.train`)."""
        return None

    def adapter(self, recipe, materials, num_classes: int) -> EncoderAdapter:
        """The encoder adapter, built under the trainer's scope after seeding."""
        raise NotImplementedError

    def jit_compile(self, recipe, compute):
        """False where XLA must stay off for this family; None: `compute` decides."""
        return None

    def model_config(self, recipe, num_classes: int) -> dict | None:
        """config.json's `model`: the family's own model settings, if any."""
        return None

    def export(self, recipe, materials, classifier: Classifier, run_dir):
        """The family's own files beside the raw-string SavedModel (the scratch model: model.keras, TFLite)."""

    run = None  # a family that trains elsewhere (KerasHub, in a Keras 3 process): run(recipe, data, strategy,
    # run_dir, compute=, verbose=, monitor=, config=) -> metrics.json, in place of `classify.run`'s steps

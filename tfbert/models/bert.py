"""Pretrained BERT as encoder adapters, two ways: TF-Hub SavedModels and HF `TFBertForSequenceClassification`.

    encoder = encoders.resolve("minilm_l6")
    hub = bert.hub_adapter(encoder.hub_pair(), trainable=False)
    hf = bert.hf_adapter(encoder, num_classes=4, trainable=True)
    model = classifier.classifier(hub, num_classes=4, pooling="mean")   # `tfbert.models.classifier`

Each is an `EncoderAdapter`: a preprocessor (the TF-Hub preprocessing SavedModel, or tf_text WordPiece)
that turns strings into WordPiece ids before the model, and a Keras model from those ids, padded with 0,
to `sequence_output`, `pooled_output` and `padding_mask`. Frozen and fine-tuned differ only in whether
the encoder's weights are trainable. No string op is inside a trained model.
"""
import sys

from tfbert import encoders
from tfbert.keras import keras, tf
from tfbert.layers.bfloat16 import for_bfloat16
from tfbert.models.classifier import EncoderAdapter, Family


class HubPreprocessor(tf.Module):
    """The TF-Hub preprocessing SavedModel as a preprocessor: (B,) strings -> (B, None) input_word_ids, unpadded.

    The SavedModel pads to its fixed length (128); its `input_mask` says where the text ends.
    """

    def __init__(self, handle):
        super().__init__(name="hub_preprocessor")
        import tensorflow_hub as hub
        import tensorflow_text  # noqa: F401  (registers the ops of the preprocessing SavedModel)
        self.layer = hub.KerasLayer(handle, name="preprocess")

    def __call__(self, texts) -> tf.RaggedTensor:
        inputs = self.layer(texts)  # {input_word_ids, input_mask, input_type_ids}: (B, L) each
        lengths = tf.reduce_sum(inputs["input_mask"], axis=1)  # (B,)
        return tf.RaggedTensor.from_tensor(inputs["input_word_ids"], lengths=lengths)  # (B, None)


def bert_inputs(ids) -> dict:
    """(B, T) WordPiece ids, 0 = padding -> the three inputs of a TF-Hub BERT encoder (one segment)."""
    return {"input_word_ids": ids, "input_mask": tf.cast(tf.not_equal(ids, 0), tf.int32),
            "input_type_ids": tf.zeros_like(ids)}


def hub_adapter(pair, trainable: bool) -> EncoderAdapter:
    """`pair` (a `hub_export.HubPair`): its preprocessing model, and its encoder as `hub.KerasLayer`."""
    import tensorflow_hub as hub

    ids = keras.Input(shape=(None,), dtype=tf.int32, name="input_word_ids")  # (B, T)
    inputs = bert_inputs(ids)
    outputs = hub.KerasLayer(pair.encoder, trainable=trainable, name="encoder")(inputs)
    network = keras.Model(ids, {"sequence_output": outputs["sequence_output"],  # (B, T, H)
                                "pooled_output": outputs["pooled_output"],  # (B, H)
                                "padding_mask": inputs["input_mask"]}, name="hub_bert")  # (B, T)
    return EncoderAdapter(HubPreprocessor(pair.preprocess), network)


def hf_adapter(encoder, num_classes: int, trainable: bool, max_length=128) -> EncoderAdapter:
    """`encoder` (an `encoders.Encoder`) through HF `TFBertForSequenceClassification`: its `bert` main layer as the
    network, and its own dropout + dense as the head (`classifier(..., pooling="pooled")` reads what HF's does).

    Frozen (`trainable=False`) makes the `bert` layer untrainable: only the classifier dense trains.
    """
    from transformers import TFBertForSequenceClassification  # imported late: it takes seconds

    hf = TFBertForSequenceClassification.from_pretrained(encoder.hf_source, num_labels=num_classes)
    hf.bert.trainable = trainable
    for_bfloat16(hf)  # under mixed_bfloat16 only: GELU, dropout, LayerNorm faster; bias gradients in float32
    ids = keras.Input((None,), dtype=tf.int32, name="input_ids")  # (B, T)
    mask = tf.cast(tf.not_equal(ids, 0), tf.int32)  # (B, T) 1 at real tokens
    outputs = hf.bert(input_ids=ids, attention_mask=mask)
    network = keras.Model(ids, {"sequence_output": outputs.last_hidden_state, "pooled_output": outputs.pooler_output,
                                "padding_mask": mask}, name="hf_bert")  # its layer "bert": HF's main layer

    def head(num_classes: int, width: int) -> keras.Model:
        float32 = keras.layers.Activation("linear", dtype="float32", name="float32")  # logits out of a mixed policy
        features = keras.Input((width,), name="features")
        return keras.Model(features, float32(hf.classifier(hf.dropout(features))), name="head")

    return EncoderAdapter(encoder.wordpiece(max_length), network, head)


class HubFamily(Family):
    """TF-Hub: the encoder's published TF-Hub pair, or its HF weights exported as one (cached)."""

    def describe(self, recipe) -> str:
        pooling = "mean pooling" if recipe.pooling == "mean" else "pooled_output"
        return f"{recipe.encoder} via TF-Hub, {pooling}, {'fine-tuned' if recipe.trainable else 'frozen'}"

    def check(self, recipe):
        return encoders.resolve(recipe.encoder, families=("hub",))

    def prepare(self, recipe, data, cache, compute):
        return self.check(recipe).hub_pair(recipe.max_length, cache, compute.precision)

    def adapter(self, recipe, materials, num_classes: int) -> EncoderAdapter:
        return hub_adapter(materials, recipe.trainable)

    def jit_compile(self, recipe, compute):
        if recipe.trainable and compute.jit_compile:
            # Measured (BENCHMARKS.md): XLA compiles a TF-Hub SavedModel's step again whenever its weights change.
            print("warning: XLA recompiles a fine-tuned TF-Hub encoder at every step; training it without XLA, on "
                  "static shapes", file=sys.stderr)
            return False
        return None


class HfFamily(Family):
    """HF `TFBertForSequenceClassification` on the encoder's local (or downloaded) checkpoint."""

    def via(self, recipe) -> str:
        return "HF TFBertForSequenceClassification"

    def check(self, recipe):
        return encoders.resolve(recipe.encoder, families=("hf",))

    def prepare(self, recipe, data, cache, compute):
        return self.check(recipe)

    def adapter(self, recipe, materials, num_classes: int) -> EncoderAdapter:
        return hf_adapter(materials, num_classes, recipe.trainable, recipe.max_length)

"""Pretrained BERT text classifiers, two ways: TF-Hub SavedModels and HF `TFBertForSequenceClassification`.

    hub = bert.hub_classifier(pair, num_classes=4, trainable=False, pooling="mean")   # strings -> logits
    hf = bert.hf_classifier(encoders.hf_source("minilm_l6"), num_classes=4, trainable=True)  # ids -> logits

Each is a `Classifier` of three Keras models sharing their layers: `model` (inputs -> logits),
`features` (inputs -> (B, H) what the head reads) and `head` ((B, H) -> logits). Frozen and fine-tuned
differ only in whether the encoder's weights are trainable; a frozen classifier trains `head` on features
computed once (`features.predict`), which trains `model`'s head too.
"""
import dataclasses

import tensorflow_hub as hub
import tensorflow_text  # noqa: F401  (registers the ops of the preprocessing SavedModel)

from tfbert.hub_export import HubPair
from tfbert.keras import keras, register, tf
from tfbert.layers import MaskedMeanPooling

POOLINGS = ("mean", "pooled")  # masked mean of sequence_output (how all-MiniLM-L6-v2 was trained), or pooled_output


@dataclasses.dataclass
class Classifier:
    model: keras.Model  # inputs -> (B, C) logits
    features: keras.Model  # inputs -> (B, H)
    head: keras.Model  # (B, H) -> (B, C) logits


@register
class TrimPadding(keras.layers.Layer):
    """Cuts BERT inputs padded to a fixed length (the preprocessing model's 128) to the batch's longest text.

    The encoder ignores padded positions, so outputs at real tokens are unchanged; the compute shrinks
    with the padding (AG News averages 53 tokens). On TPUs, whose shapes must be static, leave it out.
    """

    def call(self, inputs):  # {input_word_ids, input_mask, input_type_ids}: (B, L) each
        length = tf.reduce_max(tf.reduce_sum(inputs["input_mask"], axis=1))
        return {name: value[:, :length] for name, value in inputs.items()}  # (B, T), T <= L


def head(num_classes: int, dropout: float, seed: int, width: int, name="head") -> keras.Model:
    features = keras.Input((width,), name="features")
    hidden = keras.layers.Dropout(dropout, seed=seed)(features)
    return keras.Model(features, keras.layers.Dense(num_classes, name="logits")(hidden), name=name)


def hub_classifier(pair: HubPair, num_classes: int, trainable: bool, pooling="mean", dropout=0.1, seed=0,
                   trim_padding=True) -> Classifier:
    """Raw strings -> hub preprocessing -> hub encoder -> pooling -> dropout -> dense logits."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    text = keras.Input(shape=(), dtype=tf.string, name="text")  # (B,)
    inputs = hub.KerasLayer(pair.preprocess, name="preprocess")(text)  # (B, 128) each
    if trim_padding:
        inputs = TrimPadding()(inputs)  # (B, T)
    outputs = hub.KerasLayer(pair.encoder, trainable=trainable, name="encoder")(inputs)
    if pooling == "pooled":
        features = outputs["pooled_output"]  # (B, H)
    else:
        features = MaskedMeanPooling()(outputs["sequence_output"], inputs["input_mask"])  # (B, H)
    classifier_head = head(num_classes, dropout, seed, features.shape[-1])
    return Classifier(keras.Model(text, classifier_head(features)), keras.Model(text, features), classifier_head)


def hf_classifier(source: str, num_classes: int, trainable: bool) -> Classifier:
    """(B, T) WordPiece ids, 0 = padding -> HF `TFBertForSequenceClassification` logits.

    Frozen (`trainable=False`) makes its `bert` main layer untrainable: only the classifier dense trains.
    The features are BERT's pooled output, what the HF head reads; the head is HF's own dropout + dense.
    """
    from transformers import TFBertForSequenceClassification  # imported late: it takes seconds

    hf = TFBertForSequenceClassification.from_pretrained(source, num_labels=num_classes)
    hf.bert.trainable = trainable
    ids = keras.Input((None,), dtype=tf.int32, name="input_ids")  # (B, T)
    mask = tf.cast(tf.not_equal(ids, 0), tf.int32)  # (B, T) 1 at real tokens
    logits = hf(input_ids=ids, attention_mask=mask).logits  # (B, C)
    pooled = hf.bert(input_ids=ids, attention_mask=mask).pooler_output  # (B, H), the same weights
    features = keras.Input((pooled.shape[-1],), name="features")
    classifier_head = keras.Model(features, hf.classifier(hf.dropout(features)), name="head")
    return Classifier(keras.Model(ids, logits, name="hf_bert_classifier"), keras.Model(ids, pooled), classifier_head)

"""Pretrained BERT text classifiers, two ways: TF-Hub SavedModels and HF `TFBertForSequenceClassification`.

    encoder = encoders.resolve("minilm_l6")
    hub = bert.hub_classifier(encoder.hub_pair(), num_classes=4, trainable=False, pooling="mean")
    hf = bert.hf_classifier(encoder, num_classes=4, trainable=True)

Each is a `Classifier` (tfbert/models/classifier.py): a preprocessor (the TF-Hub preprocessing SavedModel,
or tf_text WordPiece) that turns strings into WordPiece ids before the model, and three Keras models that
share their layers and take those ids, padded with 0: `model` (ids -> logits), `features` (ids -> (B, H)
what the head reads) and `head` ((B, H) -> logits). Frozen and fine-tuned differ only in whether the
encoder's weights are trainable; a frozen classifier trains `head` on features computed once
(`features.predict`), which trains `model`'s head too. No string op is inside a trained model.
"""
from tfbert.keras import keras, tf
from tfbert.layers import MaskedMeanPooling
from tfbert.models.classifier import Classifier

POOLINGS = ("mean", "pooled")  # masked mean of sequence_output (how all-MiniLM-L6-v2 was trained), or pooled_output


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


def head(num_classes: int, dropout: float, seed: int, width: int, name="head") -> keras.Model:
    """(B, width) -> (B, num_classes) float32 logits (under a mixed policy too, so the softmax and loss are float32)."""
    features = keras.Input((width,), name="features")
    hidden = keras.layers.Dropout(dropout, seed=seed)(features)
    return keras.Model(features, keras.layers.Dense(num_classes, dtype="float32", name="logits")(hidden), name=name)


def hub_classifier(pair, num_classes: int, trainable: bool, pooling="mean", dropout=0.1, seed=0) -> Classifier:
    """`pair` (a `hub_export.HubPair`): ids -> hub encoder -> pooling -> dropout -> dense logits."""
    import tensorflow_hub as hub

    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    preprocessor = HubPreprocessor(pair.preprocess)
    ids = keras.Input(shape=(None,), dtype=tf.int32, name="input_word_ids")  # (B, T)
    inputs = bert_inputs(ids)
    outputs = hub.KerasLayer(pair.encoder, trainable=trainable, name="encoder")(inputs)
    if pooling == "pooled":
        features = outputs["pooled_output"]  # (B, H)
    else:
        features = MaskedMeanPooling()(outputs["sequence_output"], inputs["input_mask"])  # (B, H)
    classifier_head = head(num_classes, dropout, seed, features.shape[-1])
    return Classifier(preprocessor, keras.Model(ids, classifier_head(features)), keras.Model(ids, features),
                      classifier_head)


def hf_classifier(encoder, num_classes: int, trainable: bool, max_length=128) -> Classifier:
    """`encoder` (an `encoders.Encoder`): (B, T) WordPiece ids, 0 = padding -> HF `TFBertForSequenceClassification`.

    Frozen (`trainable=False`) makes its `bert` main layer untrainable: only the classifier dense trains.
    The features are BERT's pooled output, what the HF head reads; the head is HF's own dropout + dense.
    """
    from transformers import TFBertForSequenceClassification  # imported late: it takes seconds

    hf = TFBertForSequenceClassification.from_pretrained(encoder.hf_source, num_labels=num_classes)
    hf.bert.trainable = trainable
    float32 = keras.layers.Activation("linear", dtype="float32", name="float32")  # logits out of a mixed policy
    ids = keras.Input((None,), dtype=tf.int32, name="input_ids")  # (B, T)
    mask = tf.cast(tf.not_equal(ids, 0), tf.int32)  # (B, T) 1 at real tokens
    logits = float32(hf(input_ids=ids, attention_mask=mask).logits)  # (B, C)
    pooled = hf.bert(input_ids=ids, attention_mask=mask).pooler_output  # (B, H), the same weights
    features = keras.Input((pooled.shape[-1],), name="features")
    classifier_head = keras.Model(features, float32(hf.classifier(hf.dropout(features))), name="head")
    return Classifier(encoder.wordpiece(max_length), keras.Model(ids, logits, name="hf_bert_classifier"),
                      keras.Model(ids, pooled), classifier_head)

"""A trained classifier as a SavedModel that takes raw strings: the tokenizer travels with the weights.

    serving.export(model, "runs/agnews/best_model", class_names, tokenize=wordpiece.dense, resources=[wordpiece])
    serve = serving.load("runs/agnews/best_model")
    serve(tf.constant(["Stocks rally as oil falls"]))  # {"probabilities": (B, C), "label": (B,), "class_name": (B,)}

The `serving_default` signature is what TF Serving, `saved_model_cli` and TFLite converters read.
"""
from tfbert import runs
from tfbert.keras import tf


class TextClassifier(tf.Module):
    """`tokenize` (strings -> model inputs; None for a model that takes strings) then `model`.

    `resources` are the objects whose tables `tokenize` uses (a WordPiece, a TextVectorization):
    tracked here, they are saved with the module.
    """

    def __init__(self, model, class_names, tokenize=None, resources=()):
        super().__init__(name="text_classifier")
        self.model, self.tokenize, self.resources = model, tokenize, list(resources)
        self.class_names = tf.constant(list(class_names))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        inputs = text if self.tokenize is None else self.tokenize(text)
        probabilities = tf.nn.softmax(self.model(inputs, training=False), axis=-1)  # (B, C)
        label = tf.argmax(probabilities, axis=-1, output_type=tf.int32)  # (B,)
        return {"probabilities": probabilities, "label": label, "class_name": tf.gather(self.class_names, label)}


def export(model, path, class_names, tokenize=None, resources=()):
    module = TextClassifier(model, class_names, tokenize, resources)
    with runs.atomic(path) as tmp:
        tf.saved_model.save(module, str(tmp), signatures={"serving_default": module.serve})


def load(path):
    """The exported `serving_default` function: (B,) strings -> probabilities, label, class_name."""
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops the SavedModel uses)

    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures["serving_default"]
    return lambda text: serve(text=tf.convert_to_tensor(text))


def to_tflite(model, path, max_length: int) -> bytes:
    """A token-ids model as TFLite ((1, max_length) int64 ids, 0 = padding -> logits), e.g. for a phone.

    The tokenizer stays outside (ship the vocabulary beside the .tflite file): TFLite's builtin ops
    have no string lookup.
    """
    spec = tf.TensorSpec([1, max_length], model.inputs[0].dtype, name="token_ids")
    function = tf.function(lambda ids: model(ids, training=False)).get_concrete_function(spec)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], model)
    flatbuffer = converter.convert()
    with runs.atomic(path) as tmp:
        tmp.write_bytes(flatbuffer)
    return flatbuffer

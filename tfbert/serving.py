"""A trained classifier as a SavedModel that takes raw strings: the tokenizer travels with the weights.

    serving.export(classifier, "runs/agnews/hf_finetune/saved_model", class_names)   # a `models.Classifier`
    serve = serving.load("runs/agnews/hf_finetune/saved_model")
    serve(tf.constant(["Stocks rally as oil falls"]))  # {"probabilities": (B, C), "label": (B,), "class_name": (B,)}

The trained model takes token ids; the SavedModel joins the classifier's preprocessor (strings -> ids)
in front of it. The `serving_default` signature is what TF Serving, `saved_model_cli` and TFLite
converters read; plain TensorFlow loads it once `tensorflow_text` is imported.
"""
from tfbert import files
from tfbert.keras import tf


class TextClassifier(tf.Module):
    """A classifier's preprocessor (strings -> padded ids), then its model (ids -> logits), then softmax.

    The preprocessor is a tf.Module holding its tables (WordPiece, TextVectorization, the TF-Hub
    preprocessing model): tracked here, they are saved with the module.
    """

    def __init__(self, classifier, class_names):
        super().__init__(name="text_classifier")
        self.model, self.preprocessor, self.tokenize = classifier.model, classifier.preprocessor, classifier.tokenize
        self.class_names = tf.constant(list(class_names))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        probabilities = tf.nn.softmax(self.model(self.tokenize(text), training=False), axis=-1)  # (B, C)
        label = tf.argmax(probabilities, axis=-1, output_type=tf.int32)  # (B,)
        return {"probabilities": probabilities, "label": label, "class_name": tf.gather(self.class_names, label)}


def export(classifier, path, class_names):
    """Writes the raw-string SavedModel of `classifier` (a `models.classifier.Classifier`) to `path`."""
    module = TextClassifier(classifier, class_names)
    with files.atomic(path) as tmp:
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
    with files.atomic(path) as tmp:
        tmp.write_bytes(flatbuffer)
    return flatbuffer

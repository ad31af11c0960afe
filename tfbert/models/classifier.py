"""The one classifier contract of tfbert, as keras-hub and official/nlp have it: preprocessor -> encoder -> head.

    classifier = bert.hf_classifier(encoder, num_classes=4, trainable=True)     # or hub_classifier, scratch.classifier
    ids = classifier.ids(texts)                    # (N, None) ragged ids: TF ops on the host, before the model
    logits = classifier.model(ids.to_tensor())     # (N, C): numbers in, no string op in a trained model
    serving.export(classifier, path, class_names)  # the raw-string SavedModel: the preprocessor joined to the model
"""
import dataclasses

from tfbert.keras import keras, tf


@dataclasses.dataclass
class Classifier:
    preprocessor: tf.Module  # (B,) strings -> (B, None) ragged token ids, 0 = padding; its tables saved with it
    model: keras.Model  # (B, T) ids -> (B, C) logits
    features: keras.Model  # (B, T) ids -> (B, H), what the head reads
    head: keras.Model  # (B, H) -> (B, C) logits

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

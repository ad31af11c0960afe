"""Matthews correlation coefficient (MCC), as a streaming Keras metric and from predictions.

MCC is CoLA's score: with 70 % acceptable sentences, always answering "acceptable" is 70 % accurate
but has MCC 0, so it shows whether a model tells the classes apart at all.
"""
from tfbert.evaluate import matthews_corrcoef  # noqa: F401  (from predictions; part of this module's interface)
from tfbert.keras import keras, register, tf


@register
class MatthewsCorrelation(keras.metrics.Metric):
    """Binary MCC over an epoch, from (B,) integer labels and (B, 2) logits or probabilities; rows weighted by
    `sample_weight` if given."""

    def __init__(self, name="mcc", **kwargs):
        super().__init__(name=name, **kwargs)
        self.counts = self.add_weight(name="counts", shape=(4,), initializer="zeros")  # TP, TN, FP, FN

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = tf.cast(tf.reshape(y_true, [-1]), tf.bool)  # (B,)
        predicted = tf.equal(tf.argmax(y_pred, axis=-1), 1)  # (B,)
        cells = tf.cast(tf.stack([labels & predicted, ~labels & ~predicted, ~labels & predicted, labels & ~predicted]),
                        tf.float32)  # (4, B)
        if sample_weight is not None:  # filler rows of full evaluation batches weigh 0
            cells *= tf.cast(tf.reshape(sample_weight, [1, -1]), tf.float32)
        self.counts.assign_add(tf.reduce_sum(cells, axis=1))

    def result(self):
        tp, tn, fp, fn = tf.unstack(self.counts)
        denominator = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
        return tf.math.divide_no_nan(tp * tn - fp * fn, tf.sqrt(denominator))

    def reset_state(self):
        self.counts.assign(tf.zeros(4))

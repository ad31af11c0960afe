from tfbert.keras import keras, register, tf


@register
class MaskedMeanPooling(keras.layers.Layer):
    """Mean over the real (unpadded) positions of a sequence.

    Call arguments:
        sequence: (B, T, D).
        padding_mask: (B, T), True (or 1) at real tokens; None averages every position.

    Returns:
        (B, D). A row with no real token gives zeros, not NaN.
    """

    def call(self, sequence, padding_mask=None):
        if padding_mask is None:
            return tf.reduce_mean(sequence, axis=1)
        weights = tf.cast(padding_mask, sequence.dtype)[:, :, None]  # (B, T, 1)
        total = tf.reduce_sum(sequence * weights, axis=1)  # (B, D)
        count = tf.reduce_sum(weights, axis=1)  # (B, 1)
        return total / tf.maximum(count, 1.0)

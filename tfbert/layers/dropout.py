from tfbert.keras import keras, register, tf


@register
class SeededDropout(keras.layers.Layer):
    """Dropout whose random stream is saved with the model's weights.

    Keras' `Dropout` draws from a generator that checkpoints do not save, so a run restored by
    `BackupAndRestore` would draw other masks than the run it continues. This layer draws mask `k` from
    the stateless seed `(seed, k)` and keeps `k` in a non-trainable weight: restoring the weights restores
    where the stream stands, and a resumed run trains exactly as an uninterrupted one.

    Args:
        rate: fraction of units dropped, in [0, 1).
        seed: the stream's seed; give each dropout layer of a model its own.

    Call arguments:
        inputs: any tensor.
        training: drop only when True.
    """

    def __init__(self, rate, seed, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"SeededDropout: rate must be in [0, 1), got {rate}")
        self.rate, self.seed = float(rate), int(seed)

    def build(self, input_shape):
        self.calls = self.add_weight(
            name="calls",
            shape=(),
            dtype="int64",
            initializer="zeros",
            trainable=False,
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,  # one counter across replicas
        )
        super().build(input_shape)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        with tf.control_dependencies([inputs]):  # advance only when there is data to drop from
            key = tf.stack([tf.constant(self.seed, tf.int64), self.calls.assign_add(1)])
        return tf.nn.experimental.stateless_dropout(inputs, self.rate, seed=key)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}

from tfbert.keras import keras, register, tf


@register
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token embedding plus a learned position embedding.

    Args:
        vocab_size: number of token ids; id 0 is padding.
        max_length: longest sequence the position table covers.
        embed_dim: width of both embeddings.

    Call arguments:
        token_ids: (B, T) integer ids, T <= max_length.

    Returns:
        (B, T, embed_dim) embeddings. Positions count from 0 at the first token, so padding appended at
        the end leaves the embeddings of the real tokens unchanged.

    Example:
    >>> layer = TokenAndPositionEmbedding(vocab_size=10, max_length=7, embed_dim=12)
    >>> layer(tf.constant([[3, 4, 0]])).shape
    TensorShape([1, 3, 12])
    """

    def __init__(self, vocab_size, max_length, embed_dim, **kwargs):
        super().__init__(**kwargs)
        for name, value in [("vocab_size", vocab_size), ("max_length", max_length), ("embed_dim", embed_dim)]:
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"TokenAndPositionEmbedding: {name} must be a positive integer, got {value!r}")
        self.vocab_size, self.max_length, self.embed_dim = vocab_size, max_length, embed_dim
        self.token_embedding = keras.layers.Embedding(vocab_size, embed_dim, name="token_embedding")
        self.position_embedding = keras.layers.Embedding(max_length, embed_dim, name="position_embedding")

    def call(self, token_ids):
        positions = self.positions(tf.shape(token_ids)[-1])  # first: building it first fixes the initial weights
        return self.token_embedding(token_ids) + positions  # (B, T, D)

    def positions(self, length):
        """(T, D) the position embeddings of a sequence of `length` tokens."""
        tf.debugging.assert_less_equal(
            length, self.max_length, message="TokenAndPositionEmbedding: sequence longer than max_length"
        )
        return self.position_embedding(tf.range(length))

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "max_length": self.max_length,
            "embed_dim": self.embed_dim,
        }

from tfbert.keras import keras, register, tf
from tfbert.layers.dropout import SeededDropout


@register
class TransformerBlock(keras.layers.Layer):
    """A post-LayerNorm Transformer encoder block: self-attention, then a feed-forward network.

    The keras-io block, with the gaps filled: padding is masked out of attention, `key_dim` defaults to
    `embed_dim // num_heads` (the original used `embed_dim` per head), attention scores can be returned,
    `training` reaches the dropouts, and the layer saves and reloads through `get_config`.

    Args:
        num_heads: attention heads.
        ff_dim: width of the feed-forward hidden layer.
        dropout: dropout rate after attention and after the feed-forward network.
        key_dim: width of each head; default `embed_dim // num_heads` (embed_dim must then divide evenly).
        seed: seed of the block's two dropout streams.

    Call arguments:
        inputs: (B, T, D) embeddings.
        padding_mask: (B, T), True at real tokens; None attends everywhere.
        training: apply dropout.
        return_attention_scores: also return the (B, num_heads, T, T) attention weights.

    Returns:
        (B, T, D), or ((B, T, D), (B, num_heads, T, T)).

    Example:
    >>> block = TransformerBlock(num_heads=3, ff_dim=5)
    >>> x, scores = block(tf.zeros((2, 7, 12)), return_attention_scores=True)
    >>> x.shape, scores.shape
    (TensorShape([2, 7, 12]), TensorShape([2, 3, 7, 7]))
    """

    def __init__(self, num_heads, ff_dim, dropout=0.1, key_dim=None, seed=0, **kwargs):
        super().__init__(**kwargs)
        for name, value in [("num_heads", num_heads), ("ff_dim", ff_dim)]:
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"TransformerBlock: {name} must be a positive integer, got {value!r}")
        if key_dim is not None and (not isinstance(key_dim, int) or key_dim <= 0):
            raise ValueError(f"TransformerBlock: key_dim must be a positive integer or None, got {key_dim!r}")
        self.num_heads, self.ff_dim, self.dropout, self.key_dim, self.seed = num_heads, ff_dim, dropout, key_dim, seed
        self.attention_dropout = SeededDropout(dropout, seed=seed, name="attention_dropout")
        self.ffn_dropout = SeededDropout(dropout, seed=seed + 1, name="ffn_dropout")

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"TransformerBlock: expected inputs of shape (B, T, D) with D known, got {input_shape}")
        embed_dim = int(input_shape[-1])
        key_dim = self.key_dim
        if key_dim is None:
            if embed_dim % self.num_heads:
                raise ValueError(
                    f"TransformerBlock: embed_dim {embed_dim} is not divisible by num_heads {self.num_heads}; "
                    "pass key_dim explicitly"
                )
            key_dim = embed_dim // self.num_heads
        self.attention = keras.layers.MultiHeadAttention(self.num_heads, key_dim, name="attention")
        self.ffn = keras.Sequential(
            [keras.layers.Dense(self.ff_dim, activation="relu"), keras.layers.Dense(embed_dim)], name="ffn"
        )
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="attention_layer_norm")
        self.ffn_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="ffn_layer_norm")
        super().build(input_shape)

    def call(self, inputs, padding_mask=None, training=None, return_attention_scores=False):
        attention_mask = None
        if padding_mask is not None:
            keys = tf.cast(padding_mask, tf.bool)  # (B, T)
            attention_mask = keys[:, None, :] & tf.ones_like(keys)[:, :, None]  # (B, T, T): queries see real keys
        attended, scores = self.attention(
            inputs, inputs, attention_mask=attention_mask, return_attention_scores=True, training=training
        )  # (B, T, D), (B, H, T, T)
        x = self.attention_norm(inputs + self.attention_dropout(attended, training=training))
        outputs = self.ffn_norm(x + self.ffn_dropout(self.ffn(x), training=training))  # (B, T, D)
        return (outputs, scores) if return_attention_scores else outputs

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "dropout": self.dropout,
            "key_dim": self.key_dim,
            "seed": self.seed,
        }

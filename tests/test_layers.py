"""Layer contracts on deliberately odd tiny sizes (vocab 10, hidden 12, 3 heads, sequence 7, batch 5)."""
import numpy as np
import pytest

from tfbert.keras import keras, tf
from tfbert.layers import MaskedMeanPooling, SeededDropout, TokenAndPositionEmbedding, TransformerBlock

B, T, D, H, VOCAB = 5, 7, 12, 3, 10


def token_ids(seed=0, lengths=(7, 3, 5, 1, 6)):
    rng = np.random.default_rng(seed)
    ids = np.zeros((B, T), dtype=np.int64)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(1, VOCAB, size=length)
    return tf.constant(ids)


@pytest.mark.parametrize("layer", [
    TokenAndPositionEmbedding(vocab_size=VOCAB, max_length=T, embed_dim=D),
    TransformerBlock(num_heads=H, ff_dim=5, dropout=0.2, key_dim=None, seed=9),
    TransformerBlock(num_heads=H, ff_dim=5, key_dim=2),
    SeededDropout(0.3, seed=4),
    MaskedMeanPooling(),
])
def test_config_round_trips(layer):
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config


def test_embedding_shape_and_positions_count_from_the_first_token():
    layer = TokenAndPositionEmbedding(VOCAB, T, D)
    out = layer(token_ids())
    assert out.shape == (B, T, D)
    padded = layer(token_ids()[:, :4])
    np.testing.assert_allclose(padded.numpy(), out[:, :4].numpy())


def test_embedding_rejects_bad_sizes_and_too_long_sequences():
    with pytest.raises(ValueError, match="embed_dim must be a positive integer"):
        TokenAndPositionEmbedding(VOCAB, T, 0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="longer than max_length"):
        TokenAndPositionEmbedding(VOCAB, 3, D)(token_ids())


def test_block_returns_attention_scores_batch_heads_seq_seq():
    x = tf.random.normal((B, T, D))
    out, scores = TransformerBlock(H, 5)(x, padding_mask=token_ids() != 0, return_attention_scores=True)
    assert out.shape == (B, T, D) and scores.shape == (B, H, T, T)
    np.testing.assert_allclose(tf.reduce_sum(scores, -1).numpy(), 1.0, atol=1e-5)  # each query's weights sum to 1


def test_padding_gets_no_attention():
    mask = token_ids() != 0
    _, scores = TransformerBlock(H, 5)(tf.random.normal((B, T, D)), padding_mask=mask, return_attention_scores=True)
    to_padding = tf.boolean_mask(tf.transpose(scores, [0, 3, 1, 2]), ~mask)  # (padded keys, H, T)
    assert float(tf.reduce_max(to_padding)) < 1e-6


def test_block_output_at_real_tokens_ignores_appended_padding():
    block = TransformerBlock(H, 5)
    ids = token_ids(lengths=(4, 2, 3, 1, 4))[:, :4]  # (B, 4)
    x = TokenAndPositionEmbedding(VOCAB, T, D)
    short = block(x(ids), padding_mask=ids != 0)
    longer_ids = tf.pad(ids, [[0, 0], [0, 3]])  # (B, 7): three more padding tokens
    longer = block(x(longer_ids), padding_mask=longer_ids != 0)
    real = (ids != 0).numpy()
    np.testing.assert_allclose(longer[:, :4].numpy()[real], short.numpy()[real], atol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_heads": 0, "ff_dim": 5}, "num_heads must be a positive integer"),
    ({"num_heads": 3, "ff_dim": -1}, "ff_dim must be a positive integer"),
    ({"num_heads": 3, "ff_dim": 5, "key_dim": 0}, "key_dim must be a positive integer"),
])
def test_block_rejects_bad_sizes_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TransformerBlock(**kwargs)


def test_block_rejects_a_width_the_heads_do_not_divide():
    with pytest.raises(ValueError, match="embed_dim 12 is not divisible by num_heads 5"):
        TransformerBlock(num_heads=5, ff_dim=4)(tf.zeros((B, T, D)))
    assert TransformerBlock(num_heads=5, ff_dim=4, key_dim=2)(tf.zeros((B, T, D))).shape == (B, T, D)


def test_training_flag_reaches_the_dropouts():
    block = TransformerBlock(H, 5, dropout=0.5)
    x = tf.random.normal((B, T, D))
    np.testing.assert_allclose(block(x, training=False).numpy(), block(x).numpy())
    assert not np.allclose(block(x, training=True).numpy(), block(x, training=False).numpy())


def test_seeded_dropout_stream_is_restored_with_the_weights():
    layer = SeededDropout(0.5, seed=1)
    x = tf.ones((B, D))
    layer(x, training=True)
    saved = layer.get_weights()
    first = layer(x, training=True).numpy()
    second = layer(x, training=True).numpy()
    assert not np.array_equal(first, second)  # a new mask every call
    layer.set_weights(saved)
    np.testing.assert_array_equal(layer(x, training=True).numpy(), first)  # restored: the same mask again
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())
    assert layer.trainable_weights == []


def test_masked_mean_pooling_averages_real_tokens_and_never_divides_by_zero():
    seq = tf.reshape(tf.range(2 * 3 * 1, dtype=tf.float32), (2, 3, 1))  # [[0, 1, 2], [3, 4, 5]]
    mask = tf.constant([[True, True, False], [False, False, False]])
    np.testing.assert_allclose(MaskedMeanPooling()(seq, padding_mask=mask).numpy(), [[0.5], [0.0]])
    np.testing.assert_allclose(MaskedMeanPooling()(seq).numpy(), [[1.0], [4.0]])


def test_a_layer_trains_inside_a_functional_model():
    ids = keras.Input((None,), dtype="int64")
    x = TransformerBlock(H, 5)(TokenAndPositionEmbedding(VOCAB, T, D)(ids), padding_mask=tf.not_equal(ids, 0))
    model = keras.Model(ids, keras.layers.Dense(2)(MaskedMeanPooling()(x)))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.fit(token_ids(), np.arange(B) % 2, epochs=1, verbose=0)
    assert all(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights))

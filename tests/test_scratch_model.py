"""The from-scratch classifier: shapes, parameter count, padding invariance, save and reload."""
import numpy as np

from tfbert.keras import keras, tf
from tfbert.models import scratch

CONFIG = scratch.PRESETS["tiny"]  # vocab 200, max_length 32, embed 12, 3 heads, ff 10, hidden 6


def ids(lengths=(7, 3, 5, 1, 6), width=7, seed=0):
    rng = np.random.default_rng(seed)
    out = np.zeros((len(lengths), width), dtype=np.int64)
    for row, length in enumerate(lengths):
        out[row, :length] = rng.integers(1, CONFIG.vocab_size, size=length)
    return tf.constant(out)


def trained_model():
    keras.utils.set_random_seed(0)
    model = scratch.build(CONFIG).model
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(ids(), np.array([0, 1, 2, 3, 0]), epochs=2, verbose=0)
    return model


def test_logits_per_class_and_the_parameter_count():
    model = scratch.build(CONFIG).model
    assert model(ids()).shape == (5, 4)
    d, h, k, f, hid = CONFIG.embed_dim, CONFIG.num_heads, CONFIG.embed_dim // CONFIG.num_heads, CONFIG.ff_dim, 6
    expected = (
        CONFIG.vocab_size * d + CONFIG.max_length * d  # token and position embeddings
        + 3 * (d * h * k + h * k) + (h * k * d + d)  # query, key, value; attention output
        + (d * f + f) + (f * d + d) + 2 * 2 * d  # feed-forward; two LayerNorms
        + (d * hid + hid) + (hid * 4 + 4)  # head
    )
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == expected


def test_the_textbook_preset_is_the_lessons_model_to_the_parameter():
    """The AI-for-Beginners lesson's summary: 648,192 (embedding) + 10,656 (block, key_dim = embed_dim) + 660 + 84.
    tfbert adds one non-trainable step counter per dropout layer (`SeededDropout`: exact resumes)."""
    model = scratch.build(scratch.PRESETS["textbook"]).model
    layers = [layer for part in model.layers[1:] for layer in part.layers]  # the network's, then the head's
    trainable = {layer.name: sum(int(np.prod(w.shape)) for w in layer.trainable_weights) for layer in layers}
    assert {name: count for name, count in trainable.items() if count} == {
        "embedding": 648_192, "block": 10_656, "hidden": 660, "logits": 84}
    assert [w.name.split("/")[-1] for w in model.non_trainable_weights] == ["calls:0"] * 4


def test_appending_padding_does_not_change_the_output():
    model = trained_model()
    short = model(ids(width=7)).numpy()
    longer = model(tf.pad(ids(width=7), [[0, 0], [0, 9]])).numpy()  # 9 more padding tokens
    np.testing.assert_allclose(longer, short, atol=1e-5)


def test_saved_model_reloads_with_identical_outputs(tmp_path):
    model = trained_model()
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(reloaded(ids()).numpy(), model(ids()).numpy())
    assert reloaded.get_config() == model.get_config()


def test_the_vectorizer_learns_from_train_and_reserves_0_for_padding_and_1_for_unknown_words():
    vectorizer = scratch.build_vectorizer(CONFIG, ["the cat sat", "the dog sat", "the cat ran"])
    assert vectorizer.get_vocabulary()[:3] == ["", "[UNK]", "the"]
    encoded = scratch.encode(vectorizer, ["The cat!", "zebra " * 40], CONFIG)
    assert encoded[0].numpy().tolist() == [2, vectorizer.get_vocabulary().index("cat")]
    assert encoded[1].numpy().tolist() == [1] * CONFIG.max_length  # unknown, and cut at max_length

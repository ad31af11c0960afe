"""Pretrained-BERT classifiers (TF-Hub and HF) and their raw-string SavedModels, on a tiny random BERT."""
import numpy as np
import pytest

import tensorflow_hub as hub

from tfbert import evaluate, serving
from tfbert.keras import keras, tf
from tfbert.models.classifier import POOLINGS, classifier as build_classifier
from tfbert.models import bert, scratch

TEXTS = ["the coach says the season is new", "shares in chip market after report today", "goal"]


@pytest.mark.slow
@pytest.mark.parametrize("pooling", POOLINGS)
def test_hub_classifier_trimmed_padding_gives_the_logits_of_full_padding(tiny_hub_pair, pooling):
    classifier = build_classifier(bert.hub_adapter(tiny_hub_pair, False), 4, pooling=pooling)
    trimmed = classifier.tokenize(tf.constant(TEXTS))  # (3, T): the preprocessor's ids, padded to the longest text
    full = hub.KerasLayer(tiny_hub_pair.preprocess)(tf.constant(TEXTS))["input_word_ids"]  # (3, 32), as exported
    assert trimmed.shape[1] < full.shape[1] == 32
    np.testing.assert_array_equal(trimmed.numpy(), full.numpy()[:, : trimmed.shape[1]])
    np.testing.assert_allclose(classifier.model(trimmed).numpy(), classifier.model(full).numpy(), atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("trainable", [False, True])
def test_hub_frozen_trains_only_the_head_and_model_is_head_of_features(tiny_hub_pair, trainable):
    classifier = build_classifier(bert.hub_adapter(tiny_hub_pair, trainable), 4)
    counts = evaluate.parameter_counts(classifier.model)
    assert counts["trainable_params"] == (counts["total_params"] if trainable else 20 * 4 + 4)
    ids = classifier.tokenize(tf.constant(TEXTS))  # (3, T) ids: no string reaches the model
    features = classifier.features(ids)  # (3, 20)
    np.testing.assert_allclose(classifier.head(features).numpy(), classifier.model(ids).numpy(), atol=1e-6)


@pytest.mark.parametrize("trainable", [False, True])
def test_hf_classifier_frozen_base_and_padding_invariance(tiny_encoder, trainable):
    classifier = build_classifier(bert.hf_adapter(tiny_encoder, 4, trainable, max_length=32), 4)
    counts = evaluate.parameter_counts(classifier.model)
    assert counts["trainable_params"] == (counts["total_params"] if trainable else 20 * 4 + 4)
    ids = classifier.tokenize(tf.constant(TEXTS))  # (3, T)
    padded = tf.pad(ids, [[0, 0], [0, 5]])  # more [PAD]: the mask hides it
    np.testing.assert_allclose(classifier.model(ids).numpy(), classifier.model(padded).numpy(), atol=1e-5)
    np.testing.assert_allclose(classifier.head(classifier.features(ids)).numpy(), classifier.model(ids).numpy(),
                               atol=1e-6)


def test_hf_classifier_equals_the_hf_model_it_wraps(tiny_bert_dir, tiny_encoder):
    from transformers import BertTokenizerFast, TFBertForSequenceClassification
    classifier = build_classifier(bert.hf_adapter(tiny_encoder, 3, True), 3)
    hf = TFBertForSequenceClassification.from_pretrained(str(tiny_bert_dir), num_labels=3)
    hf.set_weights(classifier.model.get_weights())
    batch = BertTokenizerFast(str(tiny_bert_dir / "vocab.txt"))(TEXTS, padding=True, return_tensors="np")
    np.testing.assert_allclose(classifier.model(batch["input_ids"].astype(np.int32)).numpy(),
                               hf(dict(batch)).logits.numpy(), atol=1e-5)


@pytest.mark.slow
def test_raw_string_saved_models_reload_with_the_same_predictions(tiny_encoder, tiny_hub_pair, tmp_path):
    hf = build_classifier(bert.hf_adapter(tiny_encoder, 4, True, max_length=32), 4)
    hub_ = build_classifier(bert.hub_adapter(tiny_hub_pair, True), 4)
    names = ["World", "Sports", "Business", "Sci/Tech"]
    serving.export(hf, tmp_path / "hf", names)  # the preprocessor joined to the model
    serving.export(hub_, tmp_path / "hub", names)
    for path, classifier in ((tmp_path / "hf", hf), (tmp_path / "hub", hub_)):
        expected = classifier.model(classifier.tokenize(tf.constant(TEXTS)))
        served = serving.load(path)(TEXTS)
        np.testing.assert_allclose(served["probabilities"].numpy(), tf.nn.softmax(expected).numpy(), atol=1e-6)
        assert [n.decode() for n in served["class_name"].numpy()] == [names[i] for i in np.argmax(expected, axis=1)]


def test_the_scratch_model_runs_as_tflite_with_the_same_logits(tmp_path):
    config = scratch.PRESETS["tiny"]
    model = scratch.build(config).model
    ids = np.zeros((1, config.max_length), np.int64)
    ids[0, :7] = [5, 9, 2, 77, 3, 150, 4]
    serving.to_tflite(model, tmp_path / "model.tflite", config.max_length)
    interpreter = tf.lite.Interpreter(model_path=str(tmp_path / "model.tflite"))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], ids)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, model(ids, training=False).numpy(), atol=1e-5)


def test_damaged_or_foreign_cached_features_are_computed_again_with_a_notice(tmp_path, capfd):
    from tfbert import classify, train
    ids = {"train": tf.ragged.constant([[3, 4], [5], [6, 7, 8]], dtype=tf.int32),
           "test": tf.ragged.constant([[3], [9, 9]], dtype=tf.int32)}
    trainer = train.Trainer(tf.distribute.get_strategy(), batch_size=2, examples=3, epochs=1)
    tokens = keras.Input((None,), dtype=tf.int32)
    features_model = keras.Model(tokens, tf.cast(tf.reduce_sum(tokens, axis=1, keepdims=True), tf.float32))  # (B, 1)
    path = tmp_path / "features.npz"

    def features():
        return classify.cached_features(features_model, ids, trainer, path)[0]

    expected = features()
    np.testing.assert_array_equal(expected["train"], [[7], [5], [21]])
    path.write_bytes(path.read_bytes()[:100])  # a kill while saving, before writes were atomic
    capfd.readouterr()
    assert {name: array.tolist() for name, array in features().items()} == {k: v.tolist() for k, v in expected.items()}
    assert f"notice: {path} is damaged" in capfd.readouterr().err
    np.savez(path, train=np.zeros((5, 1)), test=np.zeros((2, 1)), train_seconds=1.0)  # another data set's
    np.testing.assert_array_equal(features()["train"], expected["train"])
    assert "holds 5 train features, not 3" in capfd.readouterr().err


@pytest.mark.slow
def test_a_run_does_not_depend_on_whether_its_tf_hub_export_was_cached(tiny_encoder, ag_news_dir, tmp_path):
    """Exporting the TF-Hub pair builds a randomly initialised encoder: done after seeding, it would shift the
    head's initial weights, so a first run (empty cache) and a later one (cached) would differ."""
    from tfbert import classify, files, runs
    from tfbert.data import ag_news
    data = ag_news.load(ag_news_dir)
    recipe = classify.Recipe("hub", trainable=False, encoder=str(tiny_encoder.folder), epochs=2, lr=1e-2,
                             batch_size=16, max_length=32, train_examples=96)
    for name in ("cold", "warm"):  # the first run exports into the empty cache, the second finds it there
        classify.run(recipe, data, tf.distribute.get_strategy(), tmp_path / name, verbose=0, cache=tmp_path / "hub")
    cold, warm = (files.read_json(tmp_path / name / runs.HISTORY) for name in ("cold", "warm"))
    assert [row["loss"] for row in cold] == [row["loss"] for row in warm]
    assert (tmp_path / "cold" / runs.PREDICTIONS).read_text() == (tmp_path / "warm" / runs.PREDICTIONS).read_text()


def test_under_bfloat16_hf_layers_take_gelu_in_float32_and_16_bit_dropout_masks_and_float32_models_keep_hf_code(
        tiny_encoder):
    from transformers.activations_tf import get_tf_activation

    from tfbert.keras import keras, policy
    with policy("mixed_bfloat16"):
        mixed = bert.hf_adapter(tiny_encoder, 4, True, max_length=32).network
    activations = [layer for layer in mixed.submodules if hasattr(layer, "intermediate_act_fn")]
    dropouts = [layer for layer in mixed.submodules if isinstance(layer, keras.layers.Dropout)]
    assert len(activations) == 2 and len(dropouts) == 7  # per layer of the tiny BERT: 1 and 3; 1 on the embeddings
    assert all("call" in vars(layer) for layer in dropouts)  # the 16-bit mask form
    x = tf.constant([[-1.5, 0.3, 2.0, 7.0]], tf.bfloat16)
    hf_gelu = get_tf_activation("gelu")
    for layer in activations:
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            ours, expected = layer.intermediate_act_fn(x), tf.cast(hf_gelu(tf.cast(x, tf.float32)), tf.bfloat16)
        assert ours.dtype == tf.bfloat16
        np.testing.assert_allclose(ours.numpy().astype("float32"), expected.numpy().astype("float32"), rtol=1e-2)
        np.testing.assert_allclose(tape.gradient(ours, x).numpy().astype("float32"),
                                   tape.gradient(expected, x).numpy().astype("float32"), rtol=1e-2)

    ones = tf.ones((64, 1000), tf.bfloat16)
    dropped = dropouts[0](ones, training=True)  # (64, 1000)
    assert dropped.dtype == tf.bfloat16
    dropped = dropped.numpy().astype("float32")
    assert 0.09 < (dropped == 0).mean() < 0.11  # the tiny BERT's rate is 0.1
    np.testing.assert_array_equal(np.unique(dropped[dropped != 0]), [np.float32(tf.cast(1 / 0.9, tf.bfloat16))])
    both = (dropped[:, 0::2] == 0) & (dropped[:, 1::2] == 0)  # elements 2k and 2k + 1: the halves of one random word
    assert both.mean() < 0.02  # independent bits: both dropped 1 % of the time (0.1 ** 2), not 10 %
    odd = dropouts[0](tf.ones((3, 5, 7), tf.bfloat16), training=True)  # an odd size: a word's second half unused
    assert odd.shape == (3, 5, 7) and set(np.unique(odd.numpy().astype("float32"))) <= {0, dropped.max()}
    assert (dropouts[0](ones, training=True).numpy() != dropped).any()  # a new mask at every call
    np.testing.assert_array_equal(dropouts[0](ones, training=False).numpy(), ones.numpy())

    float32 = bert.hf_adapter(tiny_encoder, 4, True, max_length=32).network
    assert {layer.intermediate_act_fn.__name__ for layer in float32.submodules
            if hasattr(layer, "intermediate_act_fn")} == {"gelu"}  # HF's own function: float32 runs bit for bit
    for kind in (keras.layers.Dropout, keras.layers.Dense, keras.layers.LayerNormalization):  # Keras' own `call`
        assert not any("call" in vars(layer) for layer in float32.submodules if isinstance(layer, kind))


def test_under_bfloat16_hf_dense_layers_sum_their_bias_gradient_in_float32_and_compute_the_rest_as_keras(
        tiny_encoder):
    from tfbert.keras import policy
    with policy("mixed_bfloat16"):
        mixed = bert.hf_adapter(tiny_encoder, 4, True, max_length=32).network
        dense = [layer for layer in mixed.submodules if type(layer) is keras.layers.Dense]
        assert len(dense) == 13 and all("call" in vars(layer) for layer in dense)  # 6 per layer, and the pooler
        intermediate = next(layer for layer in dense if layer.units == 36)  # the tiny BERT's intermediate size
        x = tf.random.stateless_normal((8, 30, intermediate.kernel.shape[0]), seed=(1, 2))  # (batch, tokens, width)
        with tf.GradientTape(persistent=True) as tape:
            ours = intermediate(x)  # (8, 30, 36) in bfloat16
            form = vars(intermediate).pop("call")
            keras_own = intermediate(x)  # the same layer with Keras' own `call`
            intermediate.call = form
            losses = [tf.reduce_sum(tf.cast(y, tf.float32) ** 2) for y in (ours, keras_own)]
    np.testing.assert_array_equal(ours.numpy(), keras_own.numpy())
    kernel, bias = ([tape.gradient(loss, w) for loss in losses] for w in (intermediate.kernel, intermediate.bias))
    np.testing.assert_array_equal(*kernel)
    exact = (2 * ours.numpy().astype("float64")).reshape(-1, 36).sum(0)  # the bias gradient: dy = 2 y, summed
    assert np.abs(bias[0].numpy() - exact).max() <= 0.01 * np.abs(exact).max()  # float32 sums, then one rounding


def test_under_bfloat16_hf_layer_norms_compute_in_float32_each_way_eagerly_and_in_graphs(tiny_encoder):
    from tfbert.keras import policy
    with policy("mixed_bfloat16"):
        mixed = bert.hf_adapter(tiny_encoder, 4, True, max_length=32).network
        norms = [layer for layer in mixed.submodules if type(layer) is keras.layers.LayerNormalization]
        assert len(norms) == 5 and all("call" in vars(layer) for layer in norms)  # 2 per layer, 1 on the embeddings
        norm = norms[-1]
        width = norm.gamma.shape[0]
        norm.gamma.assign(1 + 0.3 * tf.random.stateless_normal((width,), seed=(3, 4)))
        norm.beta.assign(0.3 * tf.random.stateless_normal((width,), seed=(5, 6)))
        x = tf.cast(2 + 3 * tf.random.stateless_normal((8, 30, width), seed=(1, 2)), tf.bfloat16)  # (batch, tokens, W)
        dy = tf.cast(tf.random.stateless_normal((8, 30, width), seed=(7, 8)), tf.bfloat16)

        def forward_and_gradients(layer):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x)  # (8, 30, width)
            return [y] + tape.gradient(y, [x, norm.gamma, norm.beta], output_gradients=dy)

        eager, graph = forward_and_gradients(norm), tf.function(forward_and_gradients)(norm)
        form = vars(norm).pop("call")
        keras_own = forward_and_gradients(norm)  # the same layer with Keras' own `call`
        norm.call = form

    x64, dy64, gamma, beta = (np.float64(t.numpy()) for t in (x, dy, norm.gamma, norm.beta))
    x_hat = (x64 - x64.mean(-1, keepdims=True)) / np.sqrt(x64.var(-1, keepdims=True) + norm.epsilon)
    g = dy64 * gamma
    exact = [x_hat * gamma + beta,  # the forward pass and the gradients for x, gamma and beta
             (g - g.mean(-1, keepdims=True) - x_hat * (g * x_hat).mean(-1, keepdims=True))
             / np.sqrt(x64.var(-1, keepdims=True) + norm.epsilon),
             (dy64 * x_hat).sum((0, 1)), dy64.sum((0, 1))]
    assert [t.dtype for t in eager] == [tf.bfloat16, tf.bfloat16, tf.float32, tf.float32]
    for ours, in_graph, keras_, expected in zip(eager, graph, keras_own, exact):
        np.testing.assert_array_equal(ours.numpy(), in_graph.numpy())
        for result in (ours, keras_):  # within bfloat16's rounding (2 ** -8) of float64, as Keras' own form is
            assert np.abs(np.float64(result.numpy()) - expected).max() <= 2 ** -8 * np.abs(expected).max()

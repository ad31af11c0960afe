"""AdamW + warmup: the rate peaks exactly when warmup ends; bias and LayerNorm get no weight decay."""
import numpy as np
import pytest

from official.nlp import optimization

from tfbert import encoders, optim
from tfbert.keras import keras, tf
from tfbert.models.classifier import classifier as build_classifier
from tfbert.models import scratch


def test_steps_are_counted_in_batches_not_examples():
    assert optim.train_steps(num_examples=6080, batch_size=32, epochs=3) == 570
    assert optim.train_steps(num_examples=6081, batch_size=32, epochs=1) == 191  # the last, smaller batch counts


def test_the_learning_rate_peaks_exactly_at_the_end_of_warmup_then_decays_linearly_to_the_end():
    total, warmup, peak = optim.train_steps(6080, 32, 3), 57, 5e-5
    schedule = optim.create_adamw(peak, total, warmup).learning_rate
    rates = np.array([float(schedule(step)) for step in range(total + 1)])
    assert rates.argmax() == warmup and rates.max() == pytest.approx(peak)
    assert rates[0] == 0 and rates[warmup // 2] == pytest.approx(peak / 2, rel=0.02)
    assert rates[total] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(np.diff(rates[warmup:]), -peak / (total - warmup), rtol=1e-3)


def test_without_warmup_the_rate_starts_at_its_peak():
    schedule = optim.create_adamw(1e-3, 100, 0).learning_rate
    assert float(schedule(0)) == pytest.approx(1e-3) and float(schedule(50)) == pytest.approx(5e-4)


def test_a_bad_warmup_is_refused():
    with pytest.raises(ValueError, match="warmup_steps < train_steps"):
        optim.create_adamw(1e-3, 10, 10)


def test_weight_decay_skips_exactly_the_bias_and_layer_norm_variables():
    model = scratch.build(scratch.PRESETS["tiny"]).model
    model(tf.ones((2, 3), tf.int64))
    optimizer = optim.create_adamw(0.1, 10, 0, weight_decay=0.5)
    before = [v.numpy().copy() for v in model.trainable_variables]
    # Zero gradients: Adam's step is 0, so whatever moves was moved by weight decay alone.
    optimizer.apply_gradients([(tf.zeros_like(v), v) for v in model.trainable_variables])
    decayed = {v.name for v, b in zip(model.trainable_variables, before) if not np.array_equal(v.numpy(), b)}
    no_decay = {v.name for v in model.trainable_variables if "bias" in v.name or "layer_norm" in v.name}
    assert {n for n in no_decay if "layer_norm" in n} and {n for n in no_decay if "bias" in n}
    assert decayed == {v.name for v in model.trainable_variables} - no_decay
    assert any("embedding" in n for n in decayed) and any("kernel" in n for n in decayed)


def test_under_float16_loss_scaling_wraps_adamw_and_the_no_decay_groups_and_clipping_still_hold():
    from tfbert import train
    trainer = train.Trainer(tf.distribute.get_strategy(), 4, 40, 1, compute=train.Compute("mixed_float16"))
    with trainer.scope():
        model = scratch.build(scratch.PRESETS["tiny"]).model
    model(tf.ones((2, 3), tf.int64))
    trainer.compile(model, lr=0.1, weight_decay=0.5, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer)
    assert isinstance(optimizer.inner_optimizer, optimization.AdamWeightDecay)
    before = [v.numpy().copy() for v in model.trainable_variables]
    plain = optim.create_adamw(0.1, 10, 0, weight_decay=0.5)  # the same AdamW, unwrapped, on copies of the weights
    copies = [tf.Variable(v.numpy(), name=v.name.split(":")[0]) for v in model.trainable_variables]
    optimizer.apply_gradients([(tf.zeros_like(v), v) for v in model.trainable_variables])
    plain.apply_gradients([(tf.zeros_like(v), v) for v in copies])
    decayed = {v.name for v, b in zip(model.trainable_variables, before) if not np.array_equal(v.numpy(), b)}
    no_decay = {v.name for v in model.trainable_variables if "bias" in v.name or "layer_norm" in v.name}
    assert decayed == {v.name for v in model.trainable_variables} - no_decay
    # Through the wrapper, a step is AdamW's own: clipped to a global norm of 1, decayed, bias-corrected.
    gradients = [tf.fill(v.shape, 3.0) for v in model.trainable_variables]  # global norm >> 1: clipping engages
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    plain.apply_gradients(zip(gradients, copies))
    for wrapped, alone in zip(model.trainable_variables, copies):
        np.testing.assert_array_equal(wrapped.numpy(), alone.numpy())


def test_in_the_hf_bert_classifier_weight_decay_skips_exactly_its_bias_and_layernorm_variables(tiny_bert_dir):
    """The book's parameter groups ("weight_decay_rate" 0.1 on weights, 0 on bias/gamma/beta), done for real."""
    from tfbert.models import bert
    model = build_classifier(bert.hf_adapter(encoders.resolve(str(tiny_bert_dir)), 2, True), 2).model
    optimizer = optim.create_adamw(0.1, 10, 0, weight_decay=0.5)
    before = [v.numpy().copy() for v in model.trainable_variables]
    optimizer.apply_gradients([(tf.zeros_like(v), v) for v in model.trainable_variables])
    decayed = {v.name for v, b in zip(model.trainable_variables, before) if not np.array_equal(v.numpy(), b)}
    layer_norm = {v.name for v in model.trainable_variables if "/LayerNorm/" in v.name}
    bias = {v.name for v in model.trainable_variables if v.name.endswith("bias:0")}
    assert len(layer_norm) == 2 * (1 + 2 * 2) and len(bias) == 2 * 6 + 1 + 1  # per layer: 6 dense biases; pooler; head
    assert decayed == {v.name for v in model.trainable_variables} - layer_norm - bias
    assert len(decayed) == 3 + 2 * 6 + 1 + 1  # embeddings, 6 kernels per layer, pooler, classifier


@pytest.mark.parametrize("epsilon", [1e-6, 1e-8])
def test_adam_epsilon_is_added_before_bias_correction_so_it_damps_small_gradients_more_than_pytorchs(epsilon):
    """Keras' first step is lr * g / (|g| + epsilon / sqrt(1 - beta_2)); PyTorch's is lr * g / (|g| + epsilon)."""
    weight, gradient = tf.Variable([0.0]), 1e-6
    optimizer = optim.create_adamw(1.0, 10, 0, weight_decay=0.0, epsilon=epsilon)
    optimizer.apply_gradients([(tf.constant([gradient]), weight)])
    keras_form = gradient / (gradient + epsilon / np.sqrt(1 - 0.999))
    assert -weight.numpy()[0] == pytest.approx(keras_form, rel=1e-4)


def test_an_embeddings_sparse_update_is_keras_own_step_bit_for_bit_without_scattering_into_variables():
    def trained(adamw):
        keras.utils.set_random_seed(0)
        table = tf.Variable(tf.random.normal((50, 8)), name="embeddings")
        kernel = tf.Variable(tf.random.normal((8, 3)), name="kernel")
        optimizer = adamw(learning_rate=0.01, weight_decay_rate=0.1, epsilon=1e-6)
        for step in range(3):
            with tf.GradientTape() as tape:
                rows = tf.gather(table, tf.constant([[1, 7, 7, 3], [step, 9, 1, 1]]))  # repeated rows too
                loss = tf.reduce_sum(tf.square(rows @ kernel - 1.0))
            grads = tape.gradient(loss, [table, kernel])
            assert isinstance(grads[0], tf.IndexedSlices)
            optimizer.apply_gradients(zip(grads, [table, kernel]))

        @tf.function
        def update():  # traced, not run: the weights stay as trained
            optimizer.apply_gradients(zip(grads, [table, kernel]))

        scatters = {op.type for op in update.get_concrete_function().graph.get_operations()
                    if op.type.startswith("ResourceScatter")}
        return table.numpy(), kernel.numpy(), [s.numpy() for s in optimizer.weights[1:]], scatters

    *ours, our_scatters = trained(optim.AdamWeightDecay)
    *keras_own, keras_scatters = trained(optimization.AdamWeightDecay)
    for a, b in zip(ours[:2] + ours[2], keras_own[:2] + keras_own[2]):
        np.testing.assert_array_equal(a, b)
    assert keras_scatters and not our_scatters

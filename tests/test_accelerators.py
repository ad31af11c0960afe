"""What a GPU or TPU needs, checked on the CPU with the same compiler (XLA) and number formats.

Every model tfbert trains (scratch, HF BERT, TF-Hub BERT, KantaiBERT) compiles with `jit_compile=True` on
static shapes, traces its training step no more often than there are padded lengths, predicts with static
shapes what it predicts without them, and trains in mixed_bfloat16 and mixed_float16 with float32
variables and logits.
"""
import numpy as np
import pytest

from tfbert import evaluate, train
from tfbert.data import pipeline
from tfbert.keras import keras, tf
from tfbert.models.classifier import classifier as build_classifier
from tfbert.models import bert, kantaibert, scratch

from conftest import FILLER, TOPIC_WORDS

MODELS = ("scratch", "hf", "hub", "kantaibert")
MAX_LENGTH = 32
PAD_MULTIPLE = 16  # lengths 16 and 32: two programs to compile
ONE_LENGTH = {"scratch": 32, "hf": 32, "hub": 32}  # one length each keeps the compiles few; KantaiBERT has two
ROBERTA = dict(pad_id=1, mask_id=4, vocab_size=300, special_ids=[0, 1, 2, 3, 4])  # <s> <pad> </s> <unk> <mask>


def texts_and_labels(n=40, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 4
    texts = [" ".join(rng.choice(TOPIC_WORDS[label] + FILLER, size=rng.integers(2, 26))) for label in labels]
    return texts, labels


def line_ids(n=40, seed=0) -> tf.RaggedTensor:
    """(n, <= 32) RoBERTa-style ids: <s> words </s>."""
    rng = np.random.default_rng(seed)
    return tf.ragged.constant([[0, *rng.integers(5, 300, size=rng.integers(3, 30)), 2] for _ in range(n)], tf.int64)


def build(kind, trainer, tiny_encoder, hub_pair):
    """(model, ids (N, None) ragged, labels or None) of `kind`, built under `trainer.scope()`."""
    texts, labels = texts_and_labels()
    if kind == "kantaibert":
        with trainer.scope():
            return kantaibert.build_model(kantaibert.PRESETS["tiny"]), line_ids(), None
    if kind == "scratch":
        config = scratch.PRESETS["tiny"]
        vectorizer = scratch.build_vectorizer(config, texts)
    with trainer.scope():
        if kind == "scratch":
            classifier = scratch.build(config, vectorizer)
        elif kind == "hf":
            classifier = build_classifier(bert.hf_adapter(tiny_encoder, 4, True, max_length=MAX_LENGTH), 4)
        else:
            classifier = build_classifier(bert.hub_adapter(hub_pair, True), 4)
    return classifier.model, classifier.ids(texts), labels


def batches(kind, trainer, ids, labels, seed=0):
    """One epoch of training batches and the evaluation batches, in `trainer`'s shapes."""
    if kind == "kantaibert":
        return (trainer.mlm_batches(ids, seed, ROBERTA),
                trainer.mlm_batches(line_ids(13, seed=1), seed, ROBERTA, held_out=True))
    return (trainer.train_batches(ids, labels, seed).take(trainer.steps_per_epoch),
            trainer.eval_batches(ids[:13], labels[:13]))


def compile_model(kind, trainer, model):
    if kind == "kantaibert":
        trainer.compile(model, lr=1e-3)  # its loss is its own
    else:
        trainer.compile(model, lr=1e-3, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        metrics=["accuracy"])


@pytest.fixture(scope="module")
def hub_pairs(tiny_encoder, hub_cache):
    return lambda precision="float32": tiny_encoder.hub_pair(MAX_LENGTH, hub_cache, precision)


@pytest.mark.slow  # XLA compiles
@pytest.mark.parametrize("kind", MODELS)
def test_with_xla_every_model_trains_on_static_shapes_tracing_at_most_once_per_padded_length(
        kind, tiny_encoder, hub_pairs, tmp_path):
    multiple = ONE_LENGTH.get(kind, PAD_MULTIPLE)
    compute = train.Compute(jit_compile=True, pad_multiple=multiple)
    trainer = train.Trainer(tf.distribute.get_strategy(), batch_size=6, examples=40, epochs=2, max_length=MAX_LENGTH,
                            compute=compute)
    assert trainer.static_shapes and trainer.steps_per_epoch == 6 and trainer.dropped_per_epoch == 4
    # Two steps an epoch (XLA compiles a TF-Hub encoder's step again whenever its weights change).
    trainer = train.Trainer(tf.distribute.get_strategy(), batch_size=6, examples=40, epochs=2, max_length=MAX_LENGTH,
                            max_steps=2,
                            compute=compute)
    model, ids, labels = build(kind, trainer, tiny_encoder, hub_pairs())
    compile_model(kind, trainer, model)
    traces, shapes, steps = [], set(), 0
    train_step = model.train_step

    def counted(data):  # runs once per trace, not per step
        traces.append(1)
        return train_step(data)

    model.train_step = counted
    train_batches, eval_batches = batches(kind, trainer, ids, labels)
    for batch in train_batches:  # what the compiled step will see
        batch = batch if kind == "kantaibert" else {"input_ids": batch[0], "labels": batch[1]}
        assert batch["input_ids"].shape[0] == 6 and batch["labels"].shape[0] == 6  # full, static batches
        steps += 1
        shapes.add(tuple(batch["input_ids"].shape))
    assert steps == trainer.steps_per_epoch
    specs = train_batches.element_spec
    for spec in [specs[name] for name in ("input_ids", "attention_mask", "labels")] if kind == "kantaibert" else specs:
        assert spec.shape[0] == 6  # the batch dimension is static; the length is one of the padded lengths
    assert {length for _, length in shapes} <= set(pipeline.pad_lengths(MAX_LENGTH, multiple))

    history = trainer.fit(train_batches, eval_batches, tmp_path, monitor="val_loss", mode="min", verbose=0)
    assert [row["epoch"] for row in history] == [0, 1]
    assert all(np.isfinite(row["loss"]) and np.isfinite(row["val_loss"]) for row in history)
    assert 1 <= len(traces) <= len(pipeline.pad_lengths(MAX_LENGTH, multiple)) + 1


@pytest.mark.slow  # XLA compiles
@pytest.mark.parametrize("kind", MODELS)
def test_static_shapes_predict_what_dynamic_shapes_predict_on_the_same_weights(kind, tiny_encoder, hub_pairs):
    dynamic = train.Trainer(tf.distribute.get_strategy(), batch_size=6, examples=40, epochs=1, max_length=MAX_LENGTH)
    static = train.Trainer(tf.distribute.get_strategy(), batch_size=6, examples=40, epochs=1, max_length=MAX_LENGTH,
                           compute=train.Compute(jit_compile=True, pad_multiple=ONE_LENGTH.get(kind, PAD_MULTIPLE)))
    model, ids, labels = build(kind, dynamic, tiny_encoder, hub_pairs())
    order = evaluate.by_length(ids.row_lengths().numpy())
    if kind == "kantaibert":  # MLM logits at the real tokens of each line
        def predict(trainer):
            lengths = trainer.pad_lengths(MAX_LENGTH)
            rows = 6 if trainer.static_shapes else None
            call = tf.function(lambda x: model(x, attention_mask=tf.cast(x != 1, tf.int64)).logits,
                               jit_compile=trainer.static_shapes)
            outputs = []
            for start in range(0, 40, 6):
                batch = pipeline.pad_batch(ids[start: start + 6], lengths, rows, pad_id=1)  # (6, T)
                outputs.extend(call(batch).numpy()[: min(6, 40 - start)])
            return [logits[: length] for logits, length in zip(outputs, ids.row_lengths().numpy())]
        for a, b in zip(predict(dynamic), predict(static)):
            np.testing.assert_allclose(a, b, atol=1e-5)
        return
    compile_model(kind, dynamic, model)
    eager = evaluate.predict_in_order(model, pipeline.eval_batches(ids, labels, 6, order=order), order)
    compile_model(kind, static, model)  # the same weights, now compiled with XLA
    full = pipeline.eval_batches(ids, labels, 6, static.pad_lengths(MAX_LENGTH), full_batches=True, order=order)
    compiled = evaluate.predict_in_order(model, full, order)
    assert compiled.shape == eager.shape == (40, 4)
    np.testing.assert_allclose(compiled, eager, atol=1e-5)
    scores = model.evaluate(full, verbose=0, return_dict=True)  # filler rows weigh 0: every text counted once
    assert scores["accuracy"] == pytest.approx(evaluate.accuracy(labels, eager), abs=1e-6)


@pytest.mark.slow  # XLA compiles
@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("kind", MODELS)
def test_mixed_precision_keeps_variables_and_logits_in_float32_and_trains(kind, precision, tiny_encoder, hub_pairs,
                                                                           tmp_path):
    compute = train.Compute(precision)  # with XLA: the test above
    trainer = train.Trainer(tf.distribute.get_strategy(), batch_size=6, examples=40, epochs=1, max_length=MAX_LENGTH,
                            max_steps=3,
                            compute=compute)
    model, ids, labels = build(kind, trainer, tiny_encoder, hub_pairs(precision))
    assert keras.mixed_precision.global_policy().name == "float32"  # put back after the scope
    assert {v.dtype for v in model.weights if v.dtype.is_floating} == {tf.float32}
    compute_dtype = tf.bfloat16 if precision == "mixed_bfloat16" else tf.float16
    sample = pipeline.pad_batch(ids[:6], pad_id=1 if kind == "kantaibert" else 0)
    assert any(layer.compute_dtype == compute_dtype.name for layer in model.submodules
               if isinstance(layer, keras.layers.Layer))
    compile_model(kind, trainer, model)
    if kind == "kantaibert":
        features = next(iter(batches(kind, trainer, ids, labels)[0]))
        assert model.chosen_token_loss(features).dtype == tf.float32
    else:
        assert model(sample).dtype == tf.float32
    assert isinstance(model.optimizer, keras.mixed_precision.LossScaleOptimizer) == (precision == "mixed_float16")
    history = trainer.fit(*batches(kind, trainer, ids, labels), tmp_path, monitor="val_loss", mode="min", verbose=0)
    assert np.isfinite(history[0]["loss"]) and np.isfinite(history[0]["val_loss"])


@pytest.mark.slow
def test_the_hub_encoder_computes_in_the_precision_it_was_exported_in(hub_pairs):
    import tensorflow_hub as hub
    ids = tf.constant([[2, 7, 8, 3]], tf.int32)
    for precision, dtype in [("float32", tf.float32), ("mixed_bfloat16", tf.bfloat16)]:
        outputs = hub.KerasLayer(hub_pairs(precision).encoder)(bert.bert_inputs(ids))
        assert outputs["pooled_output"].dtype == dtype  # the last dense layer's compute dtype


def test_a_run_killed_and_resumed_with_several_steps_per_execution_ends_exactly_as_an_uninterrupted_one(tmp_path):
    texts, labels = texts_and_labels(n=60)
    config = scratch.PRESETS["tiny"]
    vectorizer = scratch.build_vectorizer(config, texts)
    compute = train.Compute(steps_per_execution=4)

    def run(run_dir, stop_after=None):
        train.set_seed(3)
        trainer = train.Trainer(tf.distribute.get_strategy(), batch_size=5, examples=60, epochs=3, max_length=MAX_LENGTH,
                                compute=compute)
        with trainer.scope():
            classifier = scratch.build(config, vectorizer)
        ids = classifier.ids(texts)
        compile_model("scratch", trainer, classifier.model)
        train_batches, eval_batches = (pipeline.train_batches(ids, labels, 5, 3, trainer.epoch),
                                       pipeline.eval_batches(ids, labels, 5))
        callbacks = [Kill(stop_after)] if stop_after is not None else []
        return train.fit(classifier.model, train_batches, eval_batches, run_dir, 3, verbose=0, callbacks=callbacks)

    straight = run(tmp_path / "straight")
    with pytest.raises(Killed):
        run(tmp_path / "killed", stop_after=1)  # after epoch 1's backup, as SIGKILL would
    resumed = run(tmp_path / "killed")
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert [row[name] for row in resumed] == [row[name] for row in straight], name


class Killed(Exception):
    pass


class Kill(keras.callbacks.Callback):
    """Ends the process's training at the end of epoch `epoch`, after every other callback."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Killed


def graph_ops(dataset) -> set:
    """Every op type in a dataset's graph, its functions' included."""
    from tensorflow.core.framework import graph_pb2
    graph = graph_pb2.GraphDef.FromString(dataset._as_serialized_graph().numpy())
    return {node.op for node in graph.node} | {node.op for function in graph.library.function
                                               for node in function.node_def}


@pytest.mark.slow
def test_no_training_pipeline_calls_back_into_python(tiny_encoder, hub_pairs):
    """tf.py_function / numpy_function cannot run on a TPU host's input pipeline, nor in parallel."""
    trainer = train.Trainer(tf.distribute.get_strategy(), batch_size=6, examples=40, epochs=1, max_length=MAX_LENGTH,
                            compute=train.Compute(jit_compile=True))
    python_ops = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}
    for kind in MODELS:
        model, ids, labels = build(kind, trainer, tiny_encoder, hub_pairs())
        compile_model(kind, trainer, model)  # the training pipeline reads the epoch from the optimizer
        for dataset in batches(kind, trainer, ids, labels):
            ops = graph_ops(dataset)
            assert "MapDataset" in ops or "ParallelMapDataset" in ops or "ParallelMapDatasetV2" in ops
            assert not ops & python_ops, (kind, ops & python_ops)
    assert python_ops & graph_ops(tf.data.Dataset.range(2).map(lambda x: tf.py_function(lambda y: y, [x], tf.int64)))

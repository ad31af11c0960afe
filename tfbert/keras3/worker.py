"""One KerasHub classifier run in a process of its own, on the backend `KERAS_BACKEND` names.

    KERAS_BACKEND=jax python -m tfbert.keras3.worker < job.pickle     # what `tfbert.models.kerashub` starts

The job (a pickled dict, on stdin) is what `classify.run` has in hand: the recipe's and the compute settings'
fields, the data, the run directory, the encoder's folder, the monitor and config.json's fields. The steps are
`classify.run`'s:

    build     the backbone from the HF folder (exact GELU), the classifier, under the precision policy, seeded
    inputs    every split tokenized once by KerasHub's tokenizer; frozen: the backbone's features, once
    fit       AdamW + linear warmup/decay, best epoch by validation score, resumable (`fit.fit`)
    score     predictions.csv, metrics.json (`tfbert.evaluate`)
    export    hf_checkpoint/ (the trained backbone as an HF BERT folder, and the head), model.keras; the raw-string SavedModel, made on the TensorFlow backend (from model.keras when the run
              was on JAX, in a second process), checked against the run's own test probabilities

On JAX every step is compiled with XLA, so batches have static shapes (a few padded lengths, full training batches).
"""
import dataclasses
import importlib.util
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np

from tfbert import errors, evaluate, files, runlog, runs
from tfbert.keras3 import bert, fit

MODEL = "model.keras"  # the Keras 3 model, ids -> logits: reloads on either backend
HF_CHECKPOINT = "hf_checkpoint"  # the trained backbone as an HF BERT folder, and head.npz: what `interpret` reads
SAVED_MODEL = "saved_model"
EXPORT_CHECK = 64  # test texts the SavedModel answers, compared with the model's own probabilities


@dataclasses.dataclass
class Setup:
    """How this process trains: the backend's compiler and shapes, the batch and the steps."""
    backend: str
    jit_compile: bool  # on JAX always: JAX compiles every step with XLA
    batch_size: int
    steps_per_epoch: int
    pad_to: tuple | None

    @classmethod
    def of(cls, recipe: dict, compute: dict, examples: int) -> "Setup":
        backend = keras.backend.backend()
        jit = backend == "jax" or compute["jit_compile"]
        batch = recipe["batch_size"]
        steps = examples // batch if jit else -(-examples // batch)
        pad_to = fit.pad_lengths(recipe["max_length"], compute["pad_multiple"]) if jit else None
        return cls(backend, jit, batch, steps, pad_to)

    @property
    def static_shapes(self) -> bool:
        """Fixed batch shapes, as XLA compiles one program per shape."""
        return self.jit_compile

    def header(self, compute: dict, examples: int) -> dict:
        """config.json's account of how the run was computed."""
        return {"strategy": f"keras3-{self.backend}", "replicas": 1, "global_batch_size": self.batch_size,
                "compute": {**compute, "jit_compile": self.jit_compile, "static_shapes": self.static_shapes,
                            "dropped_per_epoch": examples % self.batch_size if self.static_shapes else 0,
                            "backend": self.backend}}

    def eval_batches(self, inputs, labels, order=None) -> fit.Batches:
        return fit.Batches(inputs, labels, self.batch_size, order=order, full=self.static_shapes, pad_to=self.pad_to)


def features_once(features_model, ids: dict, lengths: dict, setup: Setup, path: Path) -> tuple[dict, float]:
    """{split: (N, H)} float32 features of the frozen backbone, computed once (kept in `path`), and the seconds the
    training split took."""
    if path.exists() and (saved := files.read_features(path, {name: len(rows) for name, rows in ids.items()})):
        return saved
    features, seconds = {}, {}
    for name, split_ids in ids.items():
        started = time.perf_counter()
        batches = setup.eval_batches(split_ids, None, evaluate.by_length(lengths[name]))
        features[name] = fit.predict_in_order(features_model, batches, len(split_ids)).astype(np.float32)
        seconds[name] = time.perf_counter() - started
    files.write_features(path, features, seconds["train"])
    return features, seconds["train"]


def softmax(logits) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def metrics_for(monitor: str) -> list:
    """Accuracy, and MCC where the run is picked by it (CoLA)."""
    return ["accuracy", *([MatthewsCorrelation()] if monitor == "val_mcc" else [])]


@keras.saving.register_keras_serializable(package="tfbert")
class MatthewsCorrelation(keras.metrics.Metric):
    """Binary MCC over an epoch (`tfbert.metrics.MatthewsCorrelation` in Keras 3 ops), rows weighted by
    `sample_weight` if given."""

    def __init__(self, name="mcc", **kwargs):
        super().__init__(name=name, **kwargs)
        self.counts = self.add_variable(shape=(4,), initializer="zeros", name="counts")  # TP, TN, FP, FN

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras.ops
        labels = ops.reshape(ops.cast(y_true, "bool"), [-1])  # (B,)
        predicted = ops.equal(ops.argmax(y_pred, axis=-1), 1)  # (B,)
        cells = ops.cast(ops.stack([labels & predicted, ~labels & ~predicted, ~labels & predicted,
                                    labels & ~predicted]), "float32")  # (4, B)
        if sample_weight is not None:
            cells = cells * ops.reshape(ops.cast(sample_weight, "float32"), [1, -1])
        self.counts.assign(self.counts + ops.sum(cells, axis=1))

    def result(self):
        tp, tn, fp, fn = (self.counts[i] for i in range(4))
        denominator = keras.ops.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return keras.ops.where(denominator > 0, (tp * tn - fp * fn) / keras.ops.maximum(denominator, 1e-12), 0.0)

    def reset_state(self):
        self.counts.assign(keras.ops.zeros((4,)))


def parameter_counts(model) -> dict:
    def count(weights):
        return int(sum(np.prod(w.shape) for w in weights))
    return {"trainable_params": count(model.trainable_weights), "total_params": count(model.weights)}


def run(recipe: dict, compute: dict, data, run_dir, folder, lower_case: bool, monitor: str, config: dict, verbose=1
        ) -> dict:
    """Trains the recipe's KerasHub classifier on `data` and writes the run directory; returns metrics.json."""
    run_dir, class_names = Path(run_dir), list(data.class_names)
    keras.config.set_dtype_policy(compute["precision"])
    keras.utils.set_random_seed(recipe["seed"])
    setup = Setup.of(recipe, compute, len(data.train))
    backbone = bert.load_backbone(folder)
    backbone.trainable = recipe["trainable"]
    model, features_model, head = bert.classifier(backbone, len(class_names), recipe["pooling"], recipe["dropout"],
                                                  recipe["seed"])
    tokenizer = bert.Tokenizer(Path(folder) / "vocab.txt", lower_case, recipe["max_length"])
    splits = data.scored_splits()
    ids = {name: tokenizer(split.texts) for name, split in splits.items()}  # N lists of ids each
    lengths = {name: np.array([len(row) for row in rows]) for name, rows in ids.items()}
    values, feature_seconds = ids, 0.0
    if not recipe["trainable"]:
        values, feature_seconds = features_once(features_model, ids, lengths, setup, run_dir / "features.npz")
    trained = model if recipe["trainable"] else head

    def order(name):  # as `classify.order`
        if recipe["eval_by_length"] and (recipe["trainable"] or name == "validation"):
            return evaluate.by_length(lengths[name])
        return None

    total_steps = setup.steps_per_epoch * recipe["epochs"]
    warmup = recipe["warmup_epochs"] * setup.steps_per_epoch if recipe["warmup_epochs"] is not None else \
        recipe["warmup"] * total_steps
    metrics = metrics_for(monitor)
    by_weight = dict(weighted_metrics=metrics) if setup.static_shapes else dict(metrics=metrics)
    trained.compile(fit.adamw(recipe["lr"], total_steps, int(warmup), recipe["weight_decay"], recipe["adam_epsilon"]),
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True), **by_weight,
                    jit_compile=setup.jit_compile, steps_per_execution=compute["steps_per_execution"])
    runs.write_config(run_dir, runs.RunConfig(**config, **setup.header(compute, len(data.train))))

    buckets = lengths["train"] if recipe["trainable"] and recipe["buckets"] else None
    train_batches = fit.Batches(values["train"], splits["train"].labels, setup.batch_size, seed=recipe["seed"],
                                lengths=buckets, full=setup.static_shapes, pad_to=setup.pad_to)
    validation = None
    if "validation" in values:
        validation = setup.eval_batches(values["validation"], splits["validation"].labels, order("validation"))
    else:
        monitor = runlog.KEEP_LAST
    per_epoch = {"examples": len(data.train)}
    history = fit.fit(trained, train_batches, validation, run_dir, recipe["epochs"], monitor=monitor,
                      patience=recipe["patience"], per_epoch=per_epoch, verbose=verbose)
    summary = runlog.summary(history, per_epoch, monitor, extra_seconds=feature_seconds)

    def probabilities(name):
        batches = setup.eval_batches(values[name], None, order(name))
        return softmax(fit.predict_in_order(trained, batches, len(values[name])).astype(np.float64))

    more = {}
    for name, split in data.more_tests.items():
        more_probabilities = probabilities(name)
        evaluate.write_predictions(run_dir / f"predictions_{name}.csv", split.texts, split.labels,
                                   more_probabilities, class_names)
        more.update(evaluate.scores(split, more_probabilities, prefix=name))
    test = probabilities("test")
    write_hf_checkpoint(backbone, head, folder, run_dir / HF_CHECKPOINT)
    served_diff = export(model, tokenizer, run_dir, class_names, data.test.texts[:EXPORT_CHECK], test[:EXPORT_CHECK])
    return evaluate.write_test_results(
        run_dir, data.test, test, class_names, **parameter_counts(model), **more, **summary,
        feature_seconds=feature_seconds, saved_model_max_abs_diff=served_diff, backend=setup.backend,
        skipped_rows=data.skipped.summary())


def write_hf_checkpoint(backbone, head, folder, path: Path):
    """The backbone's (best) weights as an HF BERT checkpoint (model.safetensors in PyTorch's names, the encoder's
    config and vocabulary), and the head's kernel and bias in head.npz."""
    from safetensors.numpy import save_file

    with files.atomic(path) as tmp:
        tmp.mkdir()
        save_file(bert.hf_weights(backbone), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        for name in ("config.json", "vocab.txt", "tokenizer_config.json"):
            if (Path(folder) / name).is_file():
                shutil.copyfile(Path(folder) / name, tmp / name)
        np.savez(tmp / "head.npz", *[keras.ops.convert_to_numpy(w) for w in head.weights])


def export(model, tokenizer: bert.Tokenizer, run_dir: Path, class_names, texts, probabilities) -> float | None:
    """model.keras, and the raw-string SavedModel beside it (on the TensorFlow backend: here, or in a process of its
    own after a JAX run); returns how far the SavedModel's answers on `texts` are from `probabilities`. None
    without TensorFlow (model.keras reloads where it is installed)."""
    bare = keras.Model.from_config(model.get_config())  # not compiled: no optimizer state in the file
    bare.set_weights(model.get_weights())
    with files.atomic(run_dir / MODEL) as tmp:
        bare.save(str(tmp))
    if keras.backend.backend() == "tensorflow":
        return saved_model(model, tokenizer, run_dir, class_names, texts, probabilities)
    if importlib.util.find_spec("tensorflow") is None:
        print(f"notice: no TensorFlow here: {run_dir / MODEL} is the export (reload it with keras.saving.load_model)",
              file=sys.stderr)
        return None
    job = {"export": True, "run_dir": run_dir, "class_names": class_names, "texts": texts,
           "probabilities": probabilities, "tokenizer": [tokenizer.vocab_file, tokenizer.lower_case, tokenizer.max_length]}
    done = subprocess.run([sys.executable, "-m", "tfbert.keras3.worker"], input=pickle.dumps(job),
                          stdout=subprocess.PIPE, env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    if done.returncode:
        raise SystemExit(done.returncode)  # the export process said what happened
    return json.loads(done.stdout.decode().splitlines()[-1])["max_abs_diff"]


def saved_model(model, tokenizer: bert.Tokenizer, run_dir: Path, class_names, texts, probabilities) -> float:
    """The raw-string SavedModel (TensorFlow backend): KerasHub's tokenizer, packing, the model, softmax; its
    `serving_default` answers as `tfbert.serving`'s does (probabilities, label, class_name)."""
    import tensorflow as tf

    names = tf.constant(list(class_names))

    def serve(text):
        pieces = tokenizer.tokenizer(text)[:, : tokenizer.max_length - 2]  # (B, None) WordPiece ids
        ends = tf.ones_like(pieces[:, :1])  # (B, 1)
        ids = tf.concat([ends * tokenizer.cls, pieces, ends * tokenizer.sep], axis=1).to_tensor()  # (B, T)
        probabilities = tf.nn.softmax(model(ids, training=False), axis=-1)  # (B, C)
        label = tf.argmax(probabilities, axis=-1, output_type=tf.int32)  # (B,)
        return {"probabilities": probabilities, "label": label, "class_name": tf.gather(names, label)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    tokenizer.tokenizer.build(None)  # a tokenizer that has not tokenized yet (reloaded after a JAX run) is unbuilt
    archive.track(tokenizer.tokenizer)
    archive.add_endpoint("serving_default", serve, input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    with files.atomic(run_dir / SAVED_MODEL) as tmp:
        archive.write_out(str(tmp), verbose=False)
    import tensorflow_text  # noqa: F401  (the tokenizer's ops)
    served = tf.saved_model.load(str(run_dir / SAVED_MODEL)).signatures["serving_default"]
    answers = served(text=tf.constant(list(texts)))["probabilities"].numpy()
    return float(np.abs(answers - np.asarray(probabilities)).max())


def export_from_file(run_dir, tokenizer, class_names, texts, probabilities):
    """A JAX run's model.keras, reloaded on the TensorFlow backend, as the raw-string SavedModel."""
    model = keras.saving.load_model(str(Path(run_dir) / MODEL))
    diff = saved_model(model, bert.Tokenizer(*tokenizer), Path(run_dir), class_names, texts, probabilities)
    print(json.dumps({"max_abs_diff": diff}))


@errors.command
def main(argv=None):
    job = pickle.load(sys.stdin.buffer)
    if job.pop("export", False):
        return export_from_file(**job)
    run(**job)


if __name__ == "__main__":
    main()

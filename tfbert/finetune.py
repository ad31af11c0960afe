"""Train a pretrained-BERT classifier, frozen or fine-tuned, TF-Hub or HF, and score it on the test split.

    recipe = finetune.BertRecipe(family="hf", trainable=True, epochs=4, lr=5e-5)
    encoder = encoders.resolve(recipe.encoder)    # once per run
    metrics = finetune.run(recipe, encoder, data, strategy, "runs/agnews/hf_finetune")

The classifier follows `models.classifier.Classifier`: its preprocessor turns every split's texts into
WordPiece ids once, before training (TF ops on the host), and the model trains on ids only.
Fine-tuning trains every weight with AdamW + linear warmup/decay (no decay on bias and LayerNorm) on
batches of texts of similar length (length buckets), each padded to its own longest text.
Frozen runs compute the encoder's features once (saved in the run directory as features.npz) and train
only the head on them, so each extra epoch costs milliseconds; their training time includes the
feature pass over the training texts.
The run directory gets config.json, history.json, metrics.json, predictions.csv, best/ and saved_model/
(raw strings in, see `serving`), checked against the in-memory model before the run ends.
"""
import dataclasses
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from tfbert import evaluate, runs, serving, train
from tfbert.data import pipeline
from tfbert.keras import keras, tf
from tfbert.models import bert
from tfbert.models.classifier import Classifier

FAMILIES = ("hub", "hf")


def splits_of(data) -> dict:
    """Every split of `data` by name: train, validation (unless empty), test and the extra scored sets."""
    validation = {"validation": data.validation} if len(data.validation) else {}
    return {"train": data.train, **validation, "test": data.test, **data.more_tests}


@dataclasses.dataclass
class BertRecipe:
    family: str  # "hub" (TF-Hub preprocessing + encoder SavedModels) or "hf" (TFBertForSequenceClassification)
    trainable: bool  # fine-tune every weight, or train the head on frozen features
    encoder: str = "minilm_l6"  # a preset of `tfbert.encoders`
    pooling: str = "mean"  # hub family: "mean" (masked mean of sequence_output) or "pooled" (pooled_output)
    epochs: int = 4
    lr: float = 5e-5  # peak learning rate
    batch_size: int = 32  # per replica
    warmup: float = 0.1  # fraction of all steps
    weight_decay: float = 0.01
    adam_epsilon: float = 1e-6  # Keras' form: see `optim.create_adamw`
    dropout: float = 0.1  # before the hub family's dense head (the HF head uses its config's)
    max_length: int = 128  # WordPiece tokens, [CLS] and [SEP] included
    buckets: bool = True  # batches of similar lengths when fine-tuning
    seed: int = 0

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        if self.pooling not in bert.POOLINGS:
            raise ValueError(f"pooling must be one of {bert.POOLINGS}, got {self.pooling!r}")

    @property
    def variant(self) -> str:
        return f"{self.family}_{'finetune' if self.trainable else 'frozen'}"

    def describe(self) -> str:
        how = "fine-tuned" if self.trainable else "frozen"
        if self.family == "hub":
            pooling = "mean pooling" if self.pooling == "mean" else "pooled_output"
            return f"{self.encoder} via TF-Hub, {pooling}, {how}"
        return f"{self.encoder} via HF TFBertForSequenceClassification, {how}"


def identity(recipe: BertRecipe, data, strategy, compute=train.Compute(), **settings) -> dict:
    """The settings that define a run of `recipe` on `data` (run.json), plus `settings` (experiment, patience...)."""
    return {**settings, "variant": recipe.variant, "recipe": recipe, **compute.identity(),
            "global_batch_size": recipe.batch_size * strategy.num_replicas_in_sync, "data": data.fingerprint()}


def read_features(path: Path, inputs) -> tuple[dict, float] | None:
    """What `cached_features` saved in `path`, or None (with a notice) if the file is damaged or for other data."""
    try:
        with np.load(path) as saved:
            features = {name: saved[name] for name in inputs}
            train_seconds = float(saved["train_seconds"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        print(f"notice: {path} is damaged ({type(e).__name__}: {e}); computing the features again", file=sys.stderr)
        return None
    for name, array in features.items():
        if len(array) != (expected := int(inputs[name].shape[0])):
            print(f"notice: {path} holds {len(array)} {name} features, not {expected}; computing them again",
                  file=sys.stderr)
            return None
    return features, train_seconds


def cached_features(features_model, inputs, lengths, labels, batch_size, path: Path, pad_lengths=None,
                    full_batches=False):
    """{split: (N, H)} float32 encoder features, computed once (or read from `path`), and the seconds the train
    split took."""
    if path.exists() and (saved := read_features(path, inputs)) is not None:
        return saved
    features, seconds = {}, {}
    for name in inputs:
        started = time.perf_counter()
        order = evaluate.by_length(lengths[name])
        batches = pipeline.eval_batches(inputs[name], labels[name], batch_size, pad_lengths, full_batches, order)
        features[name] = evaluate.predict_in_order(features_model, batches, order).astype(np.float32)
        seconds[name] = time.perf_counter() - started
    with runs.atomic(path) as tmp:
        np.savez(tmp, **features, train_seconds=seconds["train"])
    return features, seconds["train"]


def build(recipe: BertRecipe, encoder, num_classes: int, hub_pair=None) -> Classifier:
    """The recipe's classifier (call under the strategy's scope); `hub_pair`: the hub family's SavedModels."""
    if recipe.family == "hub":
        return bert.hub_classifier(hub_pair, num_classes, recipe.trainable, recipe.pooling, recipe.dropout, recipe.seed)
    return bert.hf_classifier(encoder, num_classes, recipe.trainable, recipe.max_length)


def run(recipe: BertRecipe, encoder, data, strategy, run_dir, *, compute=train.Compute(), patience=None, verbose=1,
        cache=None, experiment="", args=None, metrics=("accuracy",), monitor="val_accuracy") -> dict:
    """Trains `recipe` on `data`; writes the run directory (see the module docstring); returns metrics.json.

    `encoder` is the recipe's `encoders.Encoder`, resolved once by the caller; `compute` the precision, XLA and
    shapes (`train.Compute`); `experiment` and `args` (the
    parsed command line) go into config.json. `metrics` are compiled into the model (e.g.
    `tfbert.metrics.MatthewsCorrelation()`); `monitor`, one of them on the validation split, picks the best epoch.
    Without a validation split (`data.validation` empty) the last epoch is kept (a fixed number of epochs).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # Before seeding: a first export builds a randomly initialised encoder, which would move the head's initial
    # weights, so that a run with an empty cache and a run with a full one would differ.
    hub_pair = encoder.hub_pair(recipe.max_length, cache, compute.precision) if recipe.family == "hub" else None
    train.set_seed(recipe.seed)
    splits = splits_of(data)
    labels = {name: split.labels for name, split in splits.items()}
    trainer = train.Trainer(strategy, recipe.batch_size, len(data.train), recipe.epochs, compute=compute)
    # XLA and TPUs compile one program per shape: a few fixed lengths and full batches; elsewhere, the longest text.
    pad_lengths, static_shapes = trainer.pad_lengths(recipe.max_length), trainer.static_shapes
    with trainer.scope():
        classifier = build(recipe, encoder, len(data.class_names), hub_pair)
    ids = {name: classifier.ids(split.texts) for name, split in splits.items()}  # (N, None) each, before the model
    lengths = {name: split_ids.row_lengths().numpy() for name, split_ids in ids.items()}
    batch_size = trainer.global_batch_size
    feature_seconds = 0.0
    if recipe.trainable:
        model, inputs = classifier.model, ids
    else:
        inputs, feature_seconds = cached_features(classifier.features, ids, lengths, labels, batch_size,
                                                  run_dir / "features.npz", pad_lengths, static_shapes)
        model = classifier.head
    jit_compile = None
    if recipe.family == "hub" and recipe.trainable and compute.jit_compile:
        # Measured (BENCHMARKS.md): XLA compiles a TF-Hub SavedModel's step again whenever its weights change.
        print("warning: XLA recompiles a fine-tuned TF-Hub encoder at every step; training it without XLA, on "
              "static shapes", file=sys.stderr)
        jit_compile = False
    trainer.compile(model, recipe.lr, int(recipe.warmup * trainer.total_steps), recipe.weight_decay,
                    recipe.adam_epsilon, keras.losses.SparseCategoricalCrossentropy(from_logits=True), list(metrics),
                    jit_compile)
    runs.write_config(run_dir, runs.RunConfig(
        experiment, recipe.variant, recipe.describe(), recipe.encoder, list(data.class_names),
        recipe=dataclasses.asdict(recipe), data=data.describe(), class_counts=data.class_counts(), **trainer.header(),
        args=args or {}))

    buckets = lengths["train"] if recipe.trainable and recipe.buckets else None
    train_batches = pipeline.train_batches(inputs["train"], labels["train"], batch_size, recipe.seed, trainer.epoch,
                                           pad_lengths, static_shapes, buckets)
    if "validation" not in inputs:  # no validation split
        val_batches, monitor = None, train.KEEP_LAST
    else:
        val_order = evaluate.by_length(lengths["validation"])
        val_batches = pipeline.eval_batches(inputs["validation"], labels["validation"], batch_size, pad_lengths,
                                            static_shapes, val_order)
    per_epoch = {"examples": len(data.train)}
    history = trainer.fit(train_batches, val_batches, run_dir, monitor=monitor, patience=patience,
                          per_epoch=per_epoch, verbose=verbose)

    def predict(name):  # (N, C) probabilities of the best weights
        order = evaluate.by_length(lengths[name]) if recipe.trainable else np.arange(len(lengths[name]))
        batches = pipeline.eval_batches(inputs[name], labels[name], batch_size, pad_lengths, static_shapes, order)
        return tf.nn.softmax(evaluate.predict_in_order(model, batches, order)).numpy()

    probabilities = predict("test")
    more_scores = {}
    for name, split in data.more_tests.items():
        more_probabilities = predict(name)
        evaluate.write_predictions(run_dir / f"predictions_{name}.csv", split.texts, split.labels, more_probabilities,
                                   data.class_names)
        more_scores.update(evaluate.scores(split, more_probabilities, prefix=name))
    summary = train.summary(history, per_epoch, monitor, extra_seconds=feature_seconds)  # 0 when fine-tuning

    serving.export(classifier, run_dir / "saved_model", data.class_names)
    served = serving.load(run_dir / "saved_model")(data.test.texts[:64])["probabilities"].numpy()
    return evaluate.write_test_results(
        run_dir, data.test, probabilities, data.class_names, **evaluate.parameter_counts(classifier.model),
        **more_scores, **summary, feature_seconds=feature_seconds, saved_model_max_abs_diff=float(np.abs(served - probabilities[:64]).max()),
        skipped_rows=data.skipped.summary(),
    )

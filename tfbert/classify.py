"""Train a text classifier over any encoder, score it on the test split, export it: one path for every model.

    recipe = classify.Recipe(family="hf", trainable=True, epochs=4, lr=5e-5, experiment="agnews")
    metrics = classify.run(recipe, data, strategy, "runs/agnews/hf_finetune")

A `Recipe` is the whole spec of a run: which encoder (its `family`: scratch, hub, hf, kerashub; see `FAMILIES`),
frozen or fine-tuned, the optimiser, the data settings. `run.json` (what the run is) and `config.json` (what a
report reads) are both derived from it. `run` takes the same named steps for every family:

    prepare   the family's materials: a TF-Hub export, an HF checkpoint, a vocabulary adapted on train
    build     the encoder adapter and `models.classifier.classifier` under the strategy and precision
    inputs    every split's texts as ids, once, before training (TF ops on the host); frozen: features, once
    fit       AdamW + linear warmup/decay; best epoch by validation score; resumable
    score     test (and extra) predictions, metrics.json
    export    the raw-string SavedModel, checked against the model; the family's own files

Fine-tuning batches hold texts of similar length (length buckets), each padded to its own longest text.
Frozen runs compute the encoder's features once (features.npz in the run directory) and train only the head
on them; their training time includes that feature pass.
"""
import dataclasses
import functools
import time
from pathlib import Path

import numpy as np

from tfbert import errors, evaluate, files, runs, serving, train
from tfbert.keras import keras
from tfbert.models import bert, kerashub, scratch
from tfbert.models.classifier import POOLINGS, classifier as build_classifier

FAMILIES = {"scratch": scratch.Family(), "hub": bert.HubFamily(), "hf": bert.HfFamily(), "kerashub": kerashub.Family()}


@dataclasses.dataclass
class Recipe:
    family: str  # a key of FAMILIES
    trainable: bool = True  # fine-tune every weight, or train the head on frozen features
    encoder: str = "minilm_l6"  # pretrained families: a preset of `tfbert.encoders`, or an HF BERT folder
    preset: str = "regularized"  # scratch: a preset of `models.scratch.PRESETS`
    pooling: str = "pooled"  # "pooled" (the encoder's pooled_output) or "mean" (masked mean of sequence_output)
    epochs: int = 4
    lr: float = 5e-5  # peak learning rate
    batch_size: int = 32  # per replica
    warmup: float = 0.1  # fraction of all steps ...
    warmup_epochs: float | None = None  # ... or this many epochs
    weight_decay: float = 0.01
    adam_epsilon: float = 1e-6  # Keras' form: see `optim.create_adamw`
    dropout: float = 0.1  # before the dense head (encoders with their own head use theirs)
    max_length: int = 128  # tokens, [CLS] and [SEP] included
    buckets: bool = True  # fine-tuning: batches of similar lengths
    eval_by_length: bool = True  # score in batches of similar lengths (the scratch model: in file order)
    seed: int = 0
    experiment: str = ""  # agnews, cola: in run.json and config.json
    variant: str = ""  # the run's name in tables; default: family_finetune or family_frozen
    patience: int | None = None  # stop after this many epochs without a better validation score
    train_examples: int | None = None  # train on the first N training texts only
    validation_fraction: float = 0.1  # of the training texts, held out to pick the best epoch (AG News)
    backend: str | None = None  # kerashub: the Keras 3 backend, "tensorflow" or "jax" (None for the Keras 2 families)

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {self.family!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        self.variant = self.variant or f"{self.family}_{'finetune' if self.trainable else 'frozen'}"

    def describe(self) -> str:
        return FAMILIES[self.family].describe(self)

    def identity(self, data, strategy, compute=train.Compute(), **settings) -> dict:
        """run.json: the settings that define a run of this recipe on `data`, and `settings` (CoLA's keep...)."""
        return {"experiment": self.experiment, "variant": self.variant, "recipe": self.fields(), **compute.identity(),
                "global_batch_size": self.batch_size * strategy.num_replicas_in_sync,
                "data": self.data(data).fingerprint(), **settings}

    def fields(self) -> dict:
        """The recipe as a dict; `backend` only where it is set (a Keras 2 run's identity is what it always was)."""
        fields = dataclasses.asdict(self)
        if fields["backend"] is None:
            del fields["backend"]
        return fields

    def config(self, data, args=None) -> dict:
        """config.json's fields that the recipe and the data give (the trainer adds how it computes)."""
        return dict(experiment=self.experiment, variant=self.variant, model_name=self.describe(), encoder=self.encoder,
                    class_names=list(data.class_names), recipe=self.fields(), data=data.describe(),
                    class_counts=data.class_counts(), args=args or {})

    def data(self, data):
        """`data` with the first `train_examples` training texts only."""
        if self.train_examples and self.train_examples < len(data.train):
            return dataclasses.replace(data, train=data.train.take(np.arange(self.train_examples)))
        return data


def build(recipe: Recipe, materials, num_classes: int):
    """The recipe's `models.classifier.Classifier` from its family's materials (call under the trainer's scope)."""
    adapter = FAMILIES[recipe.family].adapter(recipe, materials, num_classes)
    return build_classifier(adapter, num_classes, recipe.pooling, recipe.dropout, recipe.seed)


def cached_features(features_model, inputs, trainer, path: Path):
    """{split: (N, H)} float32 encoder features, computed once (or read from `path`), and the seconds the train
    split took."""
    counts = {name: int(ids.shape[0]) for name, ids in inputs.items()}
    if path.exists() and (saved := files.read_features(path, counts)) is not None:
        return saved
    features, seconds = {}, {}
    for name, ids in inputs.items():
        started = time.perf_counter()
        features[name] = evaluate.predict_by_length(features_model, ids, eval_batches=trainer.eval_batches
                                                    ).astype(np.float32)
        seconds[name] = time.perf_counter() - started
    files.write_features(path, features, seconds["train"])
    return features, seconds["train"]


@dataclasses.dataclass
class Inputs:
    """What the trained model reads, by split: ids (N, None), or frozen features (N, H); and the labels."""
    values: dict
    labels: dict
    lengths: dict  # (N,) tokens per text, by split
    feature_seconds: float = 0.0  # frozen: the feature pass over the training texts


def prepare_inputs(recipe: Recipe, classifier, data, trainer, run_dir: Path) -> Inputs:
    splits = data.scored_splits()
    labels = {name: split.labels for name, split in splits.items()}
    ids = {name: classifier.ids(split.texts) for name, split in splits.items()}  # (N, None) each, before the model
    lengths = {name: split_ids.row_lengths().numpy() for name, split_ids in ids.items()}
    if recipe.trainable:
        return Inputs(ids, labels, lengths)
    features, seconds = cached_features(classifier.features, ids, trainer, run_dir / "features.npz")
    return Inputs(features, labels, lengths, seconds)


def order(recipe: Recipe, inputs: Inputs, name: str):
    """The order a split is scored in: by length (batches with little padding) for ids and for validation; frozen
    features' test splits as they are."""
    if recipe.eval_by_length and (recipe.trainable or name == "validation"):
        return evaluate.by_length(inputs.lengths[name])
    return None


def fit(recipe: Recipe, model, trainer, inputs: Inputs, run_dir: Path, monitor: str, verbose: int):
    """Trains `model` (compiled) on the train split; the best epoch by `monitor` on validation, if there is one."""
    buckets = inputs.lengths["train"] if recipe.trainable and recipe.buckets else None
    train_batches = trainer.train_batches(inputs.values["train"], inputs.labels["train"], recipe.seed, buckets)
    validation = None
    if "validation" in inputs.values:
        validation = trainer.eval_batches(inputs.values["validation"], inputs.labels["validation"],
                                          order(recipe, inputs, "validation"))
    else:
        monitor = train.KEEP_LAST
    per_epoch = {"examples": len(inputs.labels["train"])}
    history = trainer.fit(train_batches, validation, run_dir, monitor=monitor, patience=recipe.patience,
                          per_epoch=per_epoch, verbose=verbose)
    return train.summary(history, per_epoch, monitor, extra_seconds=inputs.feature_seconds)


def score(recipe: Recipe, model, trainer, inputs: Inputs, data, run_dir: Path) -> tuple[np.ndarray, dict]:
    """(N, C) test probabilities, and the scores of the extra test sets (their predictions_NAME.csv written)."""
    def probabilities(name):
        split_order = order(recipe, inputs, name)
        batches = trainer.eval_batches(inputs.values[name], inputs.labels[name], split_order)
        return evaluate.predict_proba(model, batches, split_order, len(inputs.labels[name]))

    more = {}
    for name, split in data.more_tests.items():
        more_probabilities = probabilities(name)
        evaluate.write_predictions(run_dir / f"predictions_{name}.csv", split.texts, split.labels, more_probabilities,
                                   data.class_names)
        more.update(evaluate.scores(split, more_probabilities, prefix=name))
    return probabilities("test"), more


def export(classifier, data, probabilities, run_dir: Path) -> float:
    """The raw-string SavedModel; returns how far its answers on 64 test texts are from the model's."""
    serving.export(classifier, run_dir / "saved_model", data.class_names)
    served = serving.load(run_dir / "saved_model")(data.test.texts[:64])["probabilities"].numpy()
    return float(np.abs(served - probabilities[:64]).max())


def check(recipes):
    """Fails at once (ValueError, OfflineError) if the encoder of one of `recipes` cannot be had from here: before
    any data is read or any run trained."""
    for recipe in recipes:
        FAMILIES[recipe.family].check(recipe)


def run_all(recipes: dict, data, strategy, out: Path, *, compute=train.Compute(), overwrite=False, identity=None,
            **options):
    """`run` for each {variant: recipe} in OUT/variant, after checking every directory (one refusal trains none);
    a finished run is not trained again, an unfinished one resumes. `identity`: more settings for run.json (CoLA's
    keep); `options`: `run`'s."""
    plans = {out / variant: (recipe.identity(data, strategy, compute, **(identity or {})),
                             functools.partial(run, recipe, data, strategy, out / variant, compute=compute, **options))
             for variant, recipe in recipes.items()}
    try:
        runs.run_all(plans, overwrite)
    except (runs.RunConflict, runs.RunLocked) as e:
        raise errors.UserError(str(e)) from None


def run(recipe: Recipe, data, strategy, run_dir, *, compute=train.Compute(), verbose=1, cache=None, args=None,
        metrics=("accuracy",), monitor="val_accuracy") -> dict:
    """Trains `recipe` on `data` and writes the run directory; returns metrics.json.

    `compute`: precision, XLA and shapes (`train.Compute`); `cache`: where TF-Hub exports are kept; `args`: the
    parsed command line, for config.json. `metrics` are compiled into the model, or a function returning them (a
    stateful metric, e.g. `tfbert.metrics.MatthewsCorrelation()`, is made anew for each model); `monitor`, one of
    them on the validation split, picks the best epoch.
    Without a validation split (`data.validation` empty) the last epoch is kept (a fixed number of epochs).
    """
    run_dir, data, family = Path(run_dir), recipe.data(data), FAMILIES[recipe.family]
    run_dir.mkdir(parents=True, exist_ok=True)
    if family.run:  # trains in a process of its own (Keras 3)
        return family.run(recipe, data, strategy, run_dir, compute=compute, verbose=verbose, monitor=monitor,
                          config=recipe.config(data, args))
    # Before seeding: a first TF-Hub export builds a randomly initialised encoder, which would move the head's
    # initial weights, so that a run with an empty cache and a run with a full one would differ.
    materials = family.prepare(recipe, data, cache, compute)
    train.set_seed(recipe.seed)
    num_classes = len(data.class_names)
    trainer = train.Trainer(strategy, recipe.batch_size, len(data.train), recipe.epochs, compute=compute,
                            max_length=recipe.max_length)
    with trainer.scope():
        classifier = build(recipe, materials, num_classes)
    inputs = prepare_inputs(recipe, classifier, data, trainer, run_dir)
    model = classifier.model if recipe.trainable else classifier.head
    warmup = recipe.warmup_epochs * trainer.steps_per_epoch if recipe.warmup_epochs is not None else \
        recipe.warmup * trainer.total_steps
    metrics = metrics() if callable(metrics) else list(metrics)
    trainer.compile(model, recipe.lr, int(warmup), recipe.weight_decay, recipe.adam_epsilon,
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics,
                    family.jit_compile(recipe, compute))
    fields = recipe.config(data, args) | {"encoder": recipe.encoder if family.pretrained else "none"}
    runs.write_config(run_dir, runs.RunConfig(**fields, model=family.model_config(recipe, num_classes),
                                              **trainer.header()))
    summary = fit(recipe, model, trainer, inputs, run_dir, monitor, verbose)
    probabilities, more_scores = score(recipe, model, trainer, inputs, data, run_dir)
    family.export(recipe, materials, classifier, run_dir)
    served_diff = export(classifier, data, probabilities, run_dir)
    return evaluate.write_test_results(
        run_dir, data.test, probabilities, data.class_names, **evaluate.parameter_counts(classifier.model),
        **more_scores, **summary, feature_seconds=inputs.feature_seconds, saved_model_max_abs_diff=served_diff,
        skipped_rows=data.skipped.summary())

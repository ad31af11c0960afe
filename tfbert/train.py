"""Keras `fit` with what a long run needs: a progress bar, TensorBoard, resume after a kill,
the best weights by validation score, optional early stopping, and a history on disk.

    trainer = train.Trainer(strategy, batch_size=32, examples=len(data.train), epochs=10)   # what every run sets up
    history = trainer.fit(train_batches, validation_batches, run_dir)

Resuming is `BackupAndRestore`: start the same command again and training continues from the last
finished epoch. What else must survive a kill lives in files, not in memory (see `tfbert.runlog`).
"""
import contextlib
import dataclasses

from tfbert import optim, runlog
from tfbert.runlog import KEEP_LAST, best_epoch, summary  # noqa: F401  (part of this module's interface)
from tfbert.data import mlm, pipeline
from tfbert.keras import keras, policy, tf

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass(frozen=True)
class Compute:
    """How the training step runs on the device: number format, compiler, shapes. The defaults suit a CPU.

    precision: a Keras policy. `mixed_float16` (GPUs) and `mixed_bfloat16` (TPUs, CPUs with bf16 units) compute
        in 16 bits and keep variables, logits and losses in float32; float16 adds dynamic loss scaling.
    jit_compile: compile the training, evaluation and prediction steps with XLA. Turns on static shapes.
    steps_per_execution: training steps per call of the compiled step (fewer host round trips; TPUs).
    pad_multiple: static shapes pad batches to a multiple of this many tokens (at most `max_length`).
    """
    precision: str = "float32"
    jit_compile: bool = False
    steps_per_execution: int = 1
    pad_multiple: int = 16

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.steps_per_execution < 1 or self.pad_multiple < 1:
            raise ValueError("steps_per_execution and pad_multiple must be positive")

    def identity(self) -> dict:
        """The settings that change a run's numbers and differ from the defaults, for run.json ({} by default).
        Steps per execution is left out: it changes how often the host is called, not what is computed."""
        default, settings = Compute(), dataclasses.asdict(self)
        del settings["steps_per_execution"]
        return {name: value for name, value in settings.items() if value != getattr(default, name)}


def set_seed(seed: int):
    """Seeds Python, NumPy and TensorFlow (weight initialisation)."""
    keras.utils.set_random_seed(seed)


class RunLog(runlog.RunLog, keras.callbacks.Callback):
    """`runlog.RunLog` as a Keras 2 callback: best weights as a TF checkpoint."""


def fit(model, train_batches, validation_batches, run_dir, epochs, *, monitor="val_accuracy", mode="max",
        patience=None, per_epoch=None, verbose=1, callbacks=()):
    """Trains `model` (compiled) and leaves it holding its best weights; returns the history rows.

    Args:
        model: a compiled Keras model.
        train_batches: a dataset for one epoch; iterated once per epoch.
        validation_batches: scored after every epoch; `monitor` picks the best epoch from it. None: no
            validation, and `monitor` must be a training value, e.g. `KEEP_LAST`.
        run_dir: the run directory: history.json, best/ (the best weights), logs/ (TensorBoard), backup/.
        epochs: the most epochs to train.
        monitor, mode: the logged value that picks the best epoch, and whether higher ("max") is better.
        patience: early stopping after this many epochs without improvement of `monitor`.
        per_epoch: counts per epoch, e.g. {"examples": N}, logged per second in the history.
        verbose: Keras' progress bar (1), a line per epoch (2) or silence (0).
        callbacks: more Keras callbacks, called after the epoch's backup.
    """
    if validation_batches is None and monitor.startswith("val_"):
        raise ValueError(f"monitor {monitor!r} needs validation batches; without them, monitor {KEEP_LAST!r} keeps the last epoch")
    log = RunLog(run_dir, monitor, mode, patience, per_epoch)
    model.fit(train_batches, validation_data=validation_batches, epochs=epochs,
              callbacks=[*runlog.callbacks(keras, log, run_dir), *callbacks], verbose=verbose)
    model.load_weights(str(log.best_weights))
    return runlog.history(log, run_dir)


class Trainer:
    """What every training run does the same way, written once: the global batch (per-replica batch ×
    replicas), the steps per epoch, the precision policy the model is built under, AdamW compiled under the
    strategy (with XLA and several steps per execution if asked), static shapes where they are needed, the
    data order by epoch that makes a resume exact, the config header and `fit`. An experiment states only
    what differs: model, data, loss, metrics, recipe. An option every training run must honour belongs
    here (and in `tfbert.cli`).

        trainer = train.Trainer(strategy, batch_size=32, examples=len(data.train), epochs=4, compute=compute,
                                max_length=128)
        with trainer.scope():                       # the strategy, and the precision policy
            model = build()
        trainer.compile(model, lr=5e-5, warmup_steps=trainer.total_steps // 10, loss=loss, metrics=["accuracy"])
        batches = trainer.train_batches(ids, labels, seed)   # in the trainer's batch size and shapes
        history = trainer.fit(batches, trainer.eval_batches(val_ids, val_labels), run_dir,
                              per_epoch={"examples": len(data.train)})

    Static shapes (`static_shapes`) are on with XLA and always under a TPUStrategy: training batches are full
    (the epoch's last `dropped_per_epoch` examples of the shuffled order sit out, different ones each epoch)
    and padded to `pad_lengths`; evaluation batches are full, filler rows weighted 0.

    Args:
        strategy: the `tf.distribute` strategy everything is built under.
        batch_size: per replica.
        examples: training examples per epoch.
        epochs: the most epochs.
        max_steps: cut each epoch to this many steps.
        compute: precision, XLA, steps per execution, padding multiple (`Compute`).
        max_length: the longest sequence: static shapes pad batches to lengths up to it.
    """

    def __init__(self, strategy, batch_size: int, examples: int, epochs: int, max_steps=None, compute=Compute(),
                 max_length=None):
        self.strategy, self.epochs, self.compute, self.max_length = strategy, epochs, compute, max_length
        self.static_shapes = compute.jit_compile or isinstance(strategy, tf.distribute.TPUStrategy)
        self.global_batch_size = batch_size * strategy.num_replicas_in_sync
        batch = self.global_batch_size
        steps = examples // batch if self.static_shapes else optim.train_steps(examples, batch, epochs=1)
        self.steps_per_epoch = min(steps, max_steps) if max_steps else steps
        self.dropped_per_epoch = examples % batch if self.static_shapes and not max_steps else 0
        self.model = self.step = None

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    @contextlib.contextmanager
    def scope(self):
        """Build models in `with trainer.scope():`: their variables live where the strategy wants them, and their
        layers compute in the precision's dtype. The global Keras policy is put back afterwards."""
        with policy(self.compute.precision), self.strategy.scope():
            yield

    def pad_lengths(self, max_length=None):
        """The lengths batches are padded to with static shapes, or None: each batch to its longest row."""
        max_length = max_length or self.max_length
        return pipeline.pad_lengths(max_length, self.compute.pad_multiple) if self.static_shapes else None

    def train_batches(self, inputs, labels, seed: int, lengths=None) -> tf.data.Dataset:
        """One epoch of shuffled (inputs, labels) batches in this trainer's shapes (`pipeline.train_batches`);
        `lengths` ((N,) tokens per text): length buckets."""
        return pipeline.train_batches(inputs, labels, self.global_batch_size, seed, self.epoch, self.pad_lengths(),
                                      self.static_shapes, lengths)

    def mlm_batches(self, ids, seed: int, masking: dict, held_out=False) -> tf.data.Dataset:
        """Masked-LM batches in this trainer's shapes (`data.mlm.mlm_batches`, `masking` its token ids): one training
        epoch, cut at `steps_per_epoch`; or, `held_out`, every line once with masks drawn the same every time."""
        if held_out:
            return mlm.mlm_batches(ids, self.global_batch_size, seed, lambda: tf.constant(-1, tf.int64),
                                   full_batches=self.static_shapes, pad_lengths=self.pad_lengths(), **masking)
        return mlm.mlm_batches(ids, self.global_batch_size, seed, self.epoch, max_batches=self.steps_per_epoch,
                               drop_remainder=self.static_shapes, pad_lengths=self.pad_lengths(), **masking)

    def eval_batches(self, inputs, labels, order=None) -> tf.data.Dataset:
        """(inputs, labels) batches in `order` (default: as they are) in this trainer's shapes
        (`pipeline.eval_batches`); `evaluate.predict_in_order` puts predictions back."""
        return pipeline.eval_batches(inputs, labels, self.global_batch_size, self.pad_lengths(), self.static_shapes,
                                     order)

    def compile(self, model, lr, warmup_steps=0, weight_decay=0.01, epsilon=1e-6, loss=None, metrics=None,
                jit_compile=None):
        """Compiles `model` with AdamW (warmup to `lr`, then linear decay to 0 over `total_steps`).

        Under `mixed_float16` Keras wraps the optimizer in a `LossScaleOptimizer`, which unscales the gradients
        before AdamW clips them and decays the weights. `jit_compile` overrides the Compute's for this model
        (static shapes stay as they are)."""
        jit_compile = self.compute.jit_compile if jit_compile is None else jit_compile
        with self.strategy.scope():
            optimizer = optim.create_adamw(lr, self.total_steps, warmup_steps, weight_decay, epsilon=epsilon)
            # Static shapes weigh evaluation's filler rows 0, which only `weighted_metrics` honour. (The loss is
            # averaged over whole batches, filler rows as zeros: val_loss is N / padded N of the exact mean.)
            by_weight = dict(weighted_metrics=metrics) if self.static_shapes else dict(metrics=metrics)
            model.compile(optimizer, loss, **by_weight, jit_compile=jit_compile,
                          steps_per_execution=self.compute.steps_per_execution)
            self.step = model.optimizer.iterations  # created here, under the strategy; the data pipeline reads it
        self.model = model

    def epoch(self):
        """The epoch about to start, read by the data pipeline as each epoch starts: a resumed run sees the same order."""
        return self.step // self.steps_per_epoch

    def header(self) -> dict:
        """config.json's account of how the run was distributed and computed."""
        return {"strategy": type(self.strategy).__name__, "replicas": self.strategy.num_replicas_in_sync,
                "global_batch_size": self.global_batch_size,
                "compute": {**dataclasses.asdict(self.compute), "static_shapes": self.static_shapes,
                            "dropped_per_epoch": self.dropped_per_epoch}}

    def fit(self, train_batches, validation_batches, run_dir, **kwargs) -> list[dict]:
        """`fit` (below) on the compiled model, for `self.epochs` epochs, after printing its summary: its layers
        and parameter counts, the first thing to check against a paper or a lesson."""
        self.model.summary()
        return fit(self.model, train_batches, validation_batches, run_dir, self.epochs, **kwargs)

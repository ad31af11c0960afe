"""Training on Keras 3 the way `tfbert.train` trains on Keras 2: the same recipe, batches, history and resume.

    batches = fit.Batches(ids, labels, batch_size=32, seed=0, lengths=lengths)   # one epoch; order by (seed, epoch)
    model.compile(fit.adamw(5e-5, total_steps, warmup_steps), loss, metrics)
    history = fit.fit(model, batches, fit.Batches(val_ids, val_labels, 64, order=by_length), run_dir, epochs=4)

Batches are NumPy (a `keras.utils.PyDataset`), so the same code feeds the TensorFlow and the JAX backend, and a
runtime without TensorFlow. They follow `tfbert.data.pipeline`'s rules: training order a pure function of
(seed, epoch), so a resumed run sees the batches an uninterrupted one sees; length buckets (each epoch's order cut
into chunks of `BUCKET_BATCHES` batches, each sorted by length, the batches shuffled again); each batch padded to
its longest text, or with static shapes (XLA, and always on JAX, which compiles once per shape) to the first of
`pad_lengths` that holds it, full training batches, and evaluation filler rows weighted 0.
"""
import importlib.util

import keras
import numpy as np

from tfbert import runlog
from tfbert.data.lengths import BUCKET_BATCHES, pad_lengths  # noqa: F401  (pad_lengths: part of this interface)
from tfbert.keras3.bert import pad

NO_WEIGHT_DECAY = ("bias", "gamma", "beta")  # Keras 3 variable names of biases and LayerNorm scales/offsets


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """(n,) a permutation of range(n) that depends only on (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


class Batches(keras.utils.PyDataset):
    """(inputs (B, ...), labels (B,)[, weights (B,)]) batches of lists of ids (padded per batch) or of features.

    Training (`seed` given): shuffled by (seed, epoch), `set_epoch` before each epoch (`EpochOf` does); `lengths`:
    length buckets; `full`: full batches only. Evaluation (`seed` None): in `order` (default: as they are);
    `full`: the last batch filled up with the first rows, weighted 0.

    Args:
        inputs: N lists of token ids, or an (N, H) array of features.
        labels: (N,) integer labels; None: predictions only (batches of inputs alone).
        batch_size: the global batch size.
        pad_to: static shapes: the lengths a batch may be padded to (see `pad_lengths`).
    """

    def __init__(self, inputs, labels, batch_size: int, *, seed=None, lengths=None, order=None, full=False,
                 pad_to=None):
        super().__init__()
        self.inputs, self.labels, self.batch_size, self.seed = inputs, labels, batch_size, seed
        self.lengths, self.full, self.pad_to = lengths, full, pad_to
        n = len(inputs)
        if seed is not None:
            self.kept = n // batch_size * batch_size if full else n
            self.set_epoch(0)
        else:
            order = np.arange(n) if order is None else np.asarray(order)
            total = -(-n // batch_size) * batch_size if full else n
            self.order = order[np.arange(total) % n]  # (total,): the first rows again at the end
            self.weights = (np.arange(total) < n).astype(np.float32)
            self.index = [self.order[i: i + batch_size] for i in range(0, total, batch_size)]

    def set_epoch(self, epoch: int):
        """The batches of training epoch `epoch`."""
        order = epoch_order(len(self.inputs), self.seed, epoch)[: self.kept]
        if self.lengths is not None:
            chunk = np.arange(self.kept) // (self.batch_size * BUCKET_BATCHES)
            order = order[np.lexsort((np.asarray(self.lengths)[order], chunk))]  # by chunk, then by length
        index = [order[i: i + self.batch_size] for i in range(0, self.kept, self.batch_size)]
        if self.lengths is not None:
            index = [index[k] for k in epoch_order(len(index), self.seed + 1, epoch)]  # the buckets' order
        self.index = index

    def __len__(self):
        return len(self.index)

    def __getitem__(self, k):
        index = self.index[k]
        if isinstance(self.inputs, np.ndarray):
            inputs = self.inputs[index]  # (B, H) features
        else:
            rows = [self.inputs[i] for i in index]
            longest = max(len(row) for row in rows)
            length = next((n for n in self.pad_to if n >= longest), self.pad_to[-1]) if self.pad_to else None
            inputs = pad(rows, length)  # (B, T)
        if self.labels is None:
            return (inputs,)
        labels = np.asarray(self.labels)[index].astype(np.int32)  # (B,)
        if self.seed is None and self.full:
            return inputs, labels, self.weights[k * self.batch_size: (k + 1) * self.batch_size]
        return inputs, labels


class EpochOf(keras.callbacks.Callback):
    """Gives `batches` and the model's random streams (dropout) the epoch about to start, so that what epoch k
    draws depends on (seed, k) only: a resumed run (which starts at the restored epoch) draws what an uninterrupted
    one draws. Keras 3 does not save its `SeedGenerator`s' states with the weights."""
    STRIDE = 2 ** 24  # draws per epoch and generator at most (one a step)

    def __init__(self, batches: Batches):
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.set_epoch(epoch)
        for variable in self.model.variables:
            if variable.path.endswith("seed_generator_state"):  # [seed (from the run's seed), draws so far]
                seed = keras.ops.convert_to_numpy(variable)[0]
                variable.assign(np.array([seed, epoch * self.STRIDE], variable.dtype))


def predict_in_order(model, batches: Batches, count: int) -> np.ndarray:
    """`model`'s outputs for evaluation `batches`, back in file order, filler rows dropped."""
    outputs = np.asarray(model.predict(batches, verbose=0))[: len(batches.order)]
    restored = np.empty_like(outputs[:count])
    restored[batches.order[:count]] = outputs[:count]
    return restored


@keras.saving.register_keras_serializable(package="tfbert")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to `peak_lr` at `warmup_steps`, then linear decay to `end_lr` at `train_steps`
    (`tfbert.optim`'s schedule: official.nlp's WarmUp over LinearDecayAfterWarmup)."""

    def __init__(self, peak_lr, train_steps, warmup_steps, end_lr=0.0):
        if not 0 <= warmup_steps < train_steps:
            raise ValueError(f"need 0 <= warmup_steps < train_steps, got {warmup_steps} and {train_steps}")
        self.peak_lr, self.train_steps, self.warmup_steps, self.end_lr = peak_lr, train_steps, warmup_steps, end_lr

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        done = keras.ops.clip((step - self.warmup_steps) / (self.train_steps - self.warmup_steps), 0.0, 1.0)
        decay = self.peak_lr + (self.end_lr - self.peak_lr) * done
        return keras.ops.where(step < self.warmup_steps, self.peak_lr * step / max(self.warmup_steps, 1), decay)

    def get_config(self):
        return {"peak_lr": self.peak_lr, "train_steps": self.train_steps, "warmup_steps": self.warmup_steps,
                "end_lr": self.end_lr}


def adamw(peak_lr, train_steps, warmup_steps, weight_decay=0.01, epsilon=1e-6) -> keras.optimizers.AdamW:
    """Keras 3's AdamW as `tfbert.optim.create_adamw` sets up tf-models-official's: the same schedule, betas and
    epsilon form (added to sqrt(v) before bias correction), gradients clipped to a global norm of 1.0, no decay on
    biases and LayerNorm."""
    optimizer = keras.optimizers.AdamW(WarmupLinearDecay(peak_lr, train_steps, warmup_steps), weight_decay=weight_decay,
                                       beta_1=0.9, beta_2=0.999, epsilon=epsilon, global_clipnorm=1.0)
    optimizer.exclude_from_weight_decay(var_names=list(NO_WEIGHT_DECAY))
    return optimizer


class RunLog(runlog.RunLog, keras.callbacks.Callback):
    """`runlog.RunLog` as a Keras 3 callback: the best weights as NumPy arrays (Keras 3's weights file would hold the
    optimizer's state too: three times the size)."""
    weights = "weights.npz"

    def save_weights(self, path):
        np.savez(path, *self.model.get_weights())


def load_weights(model, path):
    with np.load(path) as saved:
        model.set_weights([saved[f"arr_{i}"] for i in range(len(saved.files))])


def has_tensorflow() -> bool:
    """Whether TensorBoard logs can be written (Keras 3's TensorBoard callback writes them with TensorFlow)."""
    return importlib.util.find_spec("tensorflow") is not None


def fit(model, train_batches: Batches, validation_batches, run_dir, epochs, *, monitor="val_accuracy", mode="max",
        patience=None, per_epoch=None, verbose=1) -> list[dict]:
    """`tfbert.train.fit` on Keras 3: trains `model` (compiled), leaves it holding its best weights, returns the
    history rows."""
    log = RunLog(run_dir, monitor, mode, patience, per_epoch)
    callbacks = [EpochOf(train_batches), *runlog.callbacks(keras, log, run_dir, tensorboard=has_tensorflow())]
    # shuffle=False: Keras would shuffle the batches' order from NumPy's global state; `Batches` orders by (seed, epoch).
    model.fit(train_batches, validation_data=validation_batches, epochs=epochs, callbacks=callbacks, verbose=verbose,
              shuffle=False)
    load_weights(model, log.best_weights)
    return runlog.history(log, run_dir)

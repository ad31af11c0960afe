"""What a long run needs, on either Keras (Keras 2 in `tfbert.train`, Keras 3 in `tfbert.keras3.fit`): a history on
disk, the best weights by validation score, early stopping, and resume after a kill.

    callbacks = runlog.callbacks(keras, RunLog(run_dir, ...), run_dir)   # `keras`: the Keras the model is built on
    model.fit(batches, validation_data=..., epochs=epochs, callbacks=callbacks)

Resuming is Keras' `BackupAndRestore`: start the same command again and training continues from the last finished
epoch. What else must survive a kill lives in files, not in memory (see `RunLog`). Nothing here imports a Keras.
"""
import time
from pathlib import Path

from tfbert import errors, files, runs

# The monitor that keeps the last epoch (every epoch's number beats the one before): fixed-epoch training,
# and the only choice without validation batches.
KEEP_LAST = "epoch"


def best_epoch(history, monitor="val_accuracy", mode="max") -> int:
    """The epoch whose `monitor` is best (the first of equals)."""
    sign = 1 if mode == "max" else -1
    return max(history, key=lambda row: sign * row[monitor])["epoch"]


def summary(history, per_epoch, monitor="val_accuracy", mode="max", extra_seconds=0.0) -> dict:
    """Epochs, best epoch, training seconds and per-second rates of a finished run, for metrics.json.

    `extra_seconds`: training time spent outside the epochs (a frozen encoder's one feature pass).
    """
    seconds = sum(row["train_seconds"] for row in history) + extra_seconds
    return {"epochs_trained": len(history), "best_epoch": best_epoch(history, monitor, mode), "train_seconds": seconds,
            **{f"train_{name}_per_second": count * len(history) / seconds for name, count in per_epoch.items()}}


class RunLog:
    """Writes history.json after every epoch, keeps the best weights (best/), and stops early: the methods of a Keras
    callback, mixed into one per Keras (`class RunLog(runlog.RunLog, keras.callbacks.Callback)`).

    Its state is the history file: at the first epoch a process trains (epoch k, k > 0 after
    BackupAndRestore restored the weights) it drops logged epochs >= k and recomputes the best score and
    the epochs without improvement from the rest, so a resumed run ends as an uninterrupted one would.

    Args:
        run_dir: where history.json and the best weights go.
        monitor: the logged value that decides the best epoch.
        mode: "max" if higher `monitor` is better, "min" if lower is.
        patience: stop after this many epochs without improvement; None trains every epoch.
        per_epoch: what an epoch processes, e.g. {"examples": 5472, "tokens": 290000}, logged per second.
    """
    weights = runs.WEIGHTS  # the file name of the best weights in best/ (Keras 2: a TF checkpoint prefix)

    def __init__(self, run_dir, monitor="val_accuracy", mode="max", patience=None, per_epoch=None):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.run_dir, self.monitor, self.mode, self.patience = Path(run_dir), monitor, mode, patience
        self.sign = 1 if mode == "max" else -1
        self.per_epoch = per_epoch or {}
        self.epochs = None  # logged epochs, loaded at the first on_epoch_begin

    @property
    def best_weights(self) -> Path:
        return self.run_dir / runs.BEST / self.weights

    def on_epoch_begin(self, epoch, logs=None):
        if self.epochs is None:
            logged = files.read_json(self.run_dir / runs.HISTORY, default=[])
            self.epochs = [row for row in logged if row["epoch"] < epoch]
            if len(self.epochs) != epoch:
                raise RuntimeError(
                    f"{self.run_dir / runs.HISTORY} logs {len(self.epochs)} epochs before epoch {epoch}, "
                    "which the restored backup starts from; delete the run directory and start again"
                )
        self._started = self._validation_started = time.perf_counter()

    def on_test_begin(self, logs=None):
        self._validation_started = time.perf_counter()  # validation time is not training time

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        train_seconds = (self._validation_started if self._validation_started > self._started else now) - self._started
        row = {"epoch": epoch, **{key: float(value) for key, value in (logs or {}).items()}}
        row.update(seconds=now - self._started, train_seconds=train_seconds)
        for name, count in self.per_epoch.items():
            row[f"train_{name}_per_second"] = count / train_seconds
        if self.monitor not in row:
            raise KeyError(f"RunLog: {self.monitor!r} is not among the logged values {sorted(row)}")
        best_before = max((self.sign * r[self.monitor] for r in self.epochs), default=float("-inf"))
        self.epochs.append(row)
        if self.sign * row[self.monitor] > best_before:
            with files.atomic(self.run_dir / runs.BEST) as tmp:  # a kill leaves the previous best whole
                tmp.mkdir()
                self.save_weights(tmp / self.weights)
        files.write_json(self.run_dir / runs.HISTORY, self.epochs)
        if self.patience is not None and epoch - self.best_epoch() >= self.patience:
            self.model.stop_training = True

    def save_weights(self, path: Path):
        self.model.save_weights(str(path))

    def best_epoch(self) -> int:
        return best_epoch(self.epochs, self.monitor, self.mode)


def callbacks(keras, log: RunLog, run_dir, tensorboard=True) -> list:
    """The callbacks of a resumable run, in `keras` (the module of the Keras the model is built on): `log`, TensorBoard
    (logs/), BackupAndRestore (backup/) and the resume hints."""
    def starts(epoch):  # Keras counts epochs from 1
        errors.progress(f"the same command resumes {run_dir} from epoch {epoch + 1}")

    class Backup(keras.callbacks.BackupAndRestore):
        """Keras' backup of each epoch and the resume hint, moved on together: a Ctrl-C between the two would
        name the epoch just backed up as the one the same command starts from."""

        def on_epoch_end(self, epoch, logs=None):
            # A signal during the backup is raised once the hint is right, as is a Ctrl-C that a destructor
            # swallowed during the epoch (no per-batch hook: Keras would time every batch's callbacks then, and warn
            # on small models).
            with errors.held():
                super().on_epoch_end(epoch, logs)
                starts(epoch + 1)  # a stop from now on resumes after this epoch

    return [
        log,
        *([keras.callbacks.TensorBoard(str(Path(run_dir) / "logs"))] if tensorboard else []),
        keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: starts(epoch)),
        # Last, so that its backup of epoch k is written after the history and best weights of epoch k. Kept after
        # the last epoch (a kill while the results are written resumes after it); `runs.run_once` removes it.
        Backup(str(Path(run_dir) / runs.BACKUP), delete_checkpoint=False),
    ]


def history(log: RunLog, run_dir) -> list[dict]:
    """After `fit` (the model holding its best weights): the history rows."""
    errors.progress(f"the same command finishes {run_dir} without training again")
    if log.epochs is None:  # restarted after the last epoch's backup: nothing was left to train
        return files.read_json(Path(run_dir) / runs.HISTORY)
    return log.epochs

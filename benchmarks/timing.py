"""Per-step wall-clock times of a Keras `fit`, for the benchmarks."""
import time

from tfbert.keras import keras


class StepTimer(keras.callbacks.Callback):
    """Seconds of each training step; `last_loss` is Keras' running mean of the loss over the epoch."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_train_batch_begin(self, batch, logs=None):
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.last_loss = float(logs["loss"])  # reading it waits for the step to finish
        self.seconds.append(time.perf_counter() - self.started)

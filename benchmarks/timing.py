"""Per-step wall-clock times of a Keras `fit`, for the benchmarks, on either Keras.

    timer = step_timer(keras)     # `keras`: the Keras the model is built on (tf_keras, or Keras 3)
    model.fit(..., callbacks=[timer]); timer.seconds
"""
import time


class StepTimes:
    """Seconds of each training step; `last_loss` is Keras' running mean of the loss over the epoch. The methods of a
    Keras callback, mixed into one of the Keras at hand by `step_timer`."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_train_batch_begin(self, batch, logs=None):
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.last_loss = float(logs["loss"])  # reading it waits for the step to finish
        self.seconds.append(time.perf_counter() - self.started)


def step_timer(keras) -> StepTimes:
    """A `StepTimes` callback of `keras` (the module)."""
    return type("StepTimer", (StepTimes, keras.callbacks.Callback), {})()

"""The kerashub family's training step, timed on given batches, in a process of its own (Keras 3 fixes its backend
when it is imported): the Keras 3 rows of benchmarks/accelerators.py.

    KERAS_BACKEND=jax python benchmarks/kerashub_steps.py batches.npz     # prints {"step_seconds": [...]}

The .npz holds `setup` (JSON: model_dir, lr, weight_decay, precision, jit_compile, batches, profile) and each
batch's `{i}_input_ids` (B, T) and `{i}_labels` (B,). The model is `tfbert.keras3.bert.classifier` over the
checkpoint, with `tfbert.keras3.fit.adamw`, as a kh_finetune run trains it; two passes, each step of the second
timed. With `profile` (a folder; the TensorFlow backend), the second pass runs under TensorFlow's profiler instead
and it prints {"wall": seconds} (benchmarks/profile_step.py reads the profile).
"""
import json
import sys
import time

import keras
import numpy as np

from tfbert.keras3 import bert, fit
from timing import step_timer  # benchmarks/timing.py


class Given(keras.utils.PyDataset):
    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, k):
        return self.batches[k]


def main(path):
    with np.load(path) as saved:
        setup = json.loads(str(saved["setup"]))
        batches = [(saved[f"{i}_input_ids"].astype(np.int32), saved[f"{i}_labels"].astype(np.int32))
                   for i in range(setup["batches"])]
    keras.config.set_dtype_policy(setup["precision"])
    keras.utils.set_random_seed(0)
    model, _, _ = bert.classifier(bert.load_backbone(setup["model_dir"]), 4)
    steps = 2 * len(batches)
    model.compile(fit.adamw(setup["lr"], steps, steps // 10, setup["weight_decay"]),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=setup["jit_compile"])
    if setup.get("profile"):
        import tensorflow as tf

        model.fit(Given(batches), epochs=1, verbose=0, shuffle=False)  # traces and warms up
        tf.profiler.experimental.start(setup["profile"])
        started = time.perf_counter()
        model.fit(Given(batches), epochs=1, verbose=0, shuffle=False)
        wall = time.perf_counter() - started
        tf.profiler.experimental.stop()
        print(json.dumps({"wall": wall}))
        return
    timer = step_timer(keras)
    model.fit(Given(batches), epochs=2, verbose=0, shuffle=False, callbacks=[timer])
    print(json.dumps({"step_seconds": timer.seconds[len(batches):]}))


if __name__ == "__main__":
    main(sys.argv[1])

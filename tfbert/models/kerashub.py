"""KerasHub BERT (Keras 3) as a family of `classify.run`, on the TensorFlow or the JAX backend.

    recipe = classify.Recipe("kerashub", trainable=True, backend="jax", ...)
    classify.run(recipe, data, strategy, "runs/agnews/kh_finetune")    # trains in a process of its own

The rest of tfbert is Keras 2 (`tf_keras`: TF-Hub layers and HF's TF classes need it), and Keras 3 fixes its
backend when it is first imported. So this family trains in a child process, `python -m tfbert.keras3.worker`
with `KERAS_BACKEND` set, which takes the run on stdin (pickled: the recipe's and compute's fields, the data, the
run directory) and writes the same run directory as the other families: config.json, history.json, best/, backup/
(resume), predictions.csv, metrics.json, saved_model/ (raw strings in), and model.keras (Keras 3's own file, which
reloads on either backend). `runs.run_all` around it (run.json, locks, resume, refusal) is the same as for every
family. The child runs on the backend's default device: JAX on a TPU VM uses it without TensorFlow's TPU build.
"""
import dataclasses
import importlib.util
import os
import pickle
import subprocess
import sys

from tfbert import encoders, errors
from tfbert.models.classifier import Family as BaseFamily

BACKENDS = ("tensorflow", "jax")
PACKAGES = {"tensorflow": ("keras_hub",), "jax": ("keras_hub", "jax")}


class Family(BaseFamily):
    """KerasHub's `BertBackbone` (exact GELU) from the encoder's HF folder, trained under Keras 3."""

    def via(self, recipe) -> str:
        return f"KerasHub BertBackbone (Keras 3, {recipe.backend})"

    def check(self, recipe):
        if recipe.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {recipe.backend!r}")
        missing = [name for name in PACKAGES[recipe.backend] if importlib.util.find_spec(name) is None]
        if missing:
            raise ValueError(f"the kerashub family on {recipe.backend} needs {', '.join(missing)}: "
                             "pip install -r requirements.txt (README, Keras 3)")
        return encoders.resolve(recipe.encoder, families=("hf",))

    def run(self, recipe, data, strategy, run_dir, *, compute, verbose, monitor, config, **_) -> dict:
        if strategy.num_replicas_in_sync > 1:
            print(f"warning: {recipe.variant} trains on one device (Keras 3 runs in its own process, outside "
                  f"{type(strategy).__name__})", file=sys.stderr)
        return child(job(recipe, data, run_dir, compute, verbose, monitor, config), environment(recipe.backend))


def environment(backend: str) -> dict:
    """This process's environment for a Keras 3 process on `backend`."""
    env = {**os.environ, "KERAS_BACKEND": backend}
    env.pop("TF_USE_LEGACY_KERAS", None)  # tfbert.keras's setting for Keras 2: not the child's
    return env


def job(recipe, data, run_dir, compute, verbose, monitor, config) -> dict:
    """What `tfbert.keras3.worker` takes on stdin (pickled): the run, in plain values and the data."""
    encoder = encoders.resolve(recipe.encoder, families=("hf",))
    return {"recipe": dataclasses.asdict(recipe), "compute": dataclasses.asdict(compute), "data": data,
            "run_dir": run_dir, "folder": encoder.folder, "lower_case": encoder.lower_case, "monitor": monitor,
            "config": config, "verbose": verbose}


def child(job: dict, env: dict) -> dict:
    """Runs the worker on `job`; its metrics.json. A Ctrl-C reaches the child too: it stops on its own (its run
    resumable) and says so in one line; its exit status is this process's."""
    from tfbert import files, runs

    with subprocess.Popen([sys.executable, "-m", "tfbert.keras3.worker"], stdin=subprocess.PIPE, env=env) as process:
        try:
            with process.stdin:
                process.stdin.write(pickle.dumps(job))
        except BrokenPipeError:
            pass  # the child stopped before reading its job: its status says why
        try:
            status = process.wait()
        except KeyboardInterrupt:
            status = process.wait()
    if status:
        raise SystemExit(status)  # the child said what happened
    errors.progress(f"the same command finishes {job['run_dir']} without training again")
    return files.read_json(job["run_dir"] / runs.METRICS)

"""The one place tfbert imports Keras.

TF-Hub's `hub.KerasLayer`, tf-models-official and HF's TF classes are all built on Keras 2 (`tf_keras`);
a Keras 3 model cannot hold them. `transformers` sets `TF_USE_LEGACY_KERAS=1` when it is imported, which
changes what `tf.keras` means in the middle of a process. Setting it here, before TensorFlow is first
imported, makes `tf.keras`, `tf_keras` and this module's `keras` the same Keras from the start.

It also keeps TensorFlow's start quiet unless asked (`TF_CPP_MIN_LOG_LEVEL` set by the user is obeyed):
no C++ info lines, and on a machine without an NVIDIA driver, not the CUDA probe's "failed call to
cuInit" error, the first thing a newcomer would otherwise read. Every other message still shows.

Everything else in tfbert does `from tfbert.keras import keras`.
"""
import contextlib
import os

from tfbert import devices
from tfbert.devices import DEFAULT_MARK


def set_environment(environ=os.environ) -> bool:
    """Step 1, before TensorFlow is imported: Keras 2 for every `tf.keras`, and TensorFlow's C++ info lines off
    unless the user set `TF_CPP_MIN_LOG_LEVEL`. Returns whether tfbert chose the log level (then it is quiet)."""
    environ["TF_USE_LEGACY_KERAS"] = "1"
    quiet = "TF_CPP_MIN_LOG_LEVEL" not in environ or DEFAULT_MARK in environ
    if quiet:
        environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # TF's C++ info lines drown the progress bars
        environ[DEFAULT_MARK] = "1"
    return quiet


QUIET = set_environment()

import tensorflow as tf  # noqa: E402  (after the environment variables, on purpose)
import tf_keras as keras  # noqa: E402

# Step 2, once TensorFlow is imported: its first look for devices, without the CUDA probe's error on a machine
# with no NVIDIA driver.
if QUIET and not devices.has_nvidia_driver():
    devices.probe_quietly(tf.config.list_physical_devices)


def register(cls):
    """Registers a layer under the `tfbert>` prefix so saved models reload without `custom_objects`."""
    return keras.utils.register_keras_serializable(package="tfbert")(cls)


@contextlib.contextmanager
def policy(name: str):
    """Layers built inside compute in the Keras precision policy `name`; the previous global policy is put back."""
    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)


__all__ = ["keras", "policy", "register", "tf"]

"""The one place tfbert imports Keras.

TF-Hub's `hub.KerasLayer`, tf-models-official and HF's TF classes are all built on Keras 2 (`tf_keras`);
a Keras 3 model cannot hold them. `transformers` sets `TF_USE_LEGACY_KERAS=1` when it is imported, which
changes what `tf.keras` means in the middle of a process. Setting it here, before TensorFlow is first
imported, makes `tf.keras`, `tf_keras` and this module's `keras` the same Keras from the start.

Everything else in tfbert does `from tfbert.keras import keras`.
"""
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ info lines drown the progress bars

import tensorflow as tf  # noqa: E402  (after the environment variable, on purpose)
import tf_keras as keras  # noqa: E402


def register(cls):
    """Registers a layer under the `tfbert>` prefix so saved models reload without `custom_objects`."""
    return keras.utils.register_keras_serializable(package="tfbert")(cls)


__all__ = ["keras", "register", "tf"]

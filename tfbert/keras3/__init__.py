"""The Keras 3 generation: KerasHub's BERT, trained on the TensorFlow or the JAX backend.

TF-Hub layers and HF's TF classes live on Keras 2 (`tfbert.keras`), and Keras 3 fixes its backend when it is
first imported (`KERAS_BACKEND`). So a Keras 3 run has a process of its own: `tfbert.models.kerashub.Family`
starts `python -m tfbert.keras3.worker` with `KERAS_BACKEND` set and hands it the run on stdin. On the JAX
backend nothing in this package imports TensorFlow: a Colab TPU runtime (JAX, no TensorFlow) runs it as it is.

    bert.py     KerasHub's BertBackbone with the checkpoint's exact GELU, its tokenizer, the classifier
    fit.py      numpy batches (length buckets, static shapes), AdamW + warmup/decay, fit with resume and history
    worker.py   one run's steps: inputs, fit, score, save; the raw-string SavedModel on the TensorFlow backend

This package's modules import Keras 3 as `keras`; nothing else in tfbert does.
"""
import importlib.util
import os

from tfbert import devices

if devices.DEFAULT_MARK in os.environ and not devices.has_nvidia_driver() and importlib.util.find_spec("tensorflow"):
    # As tfbert.keras does: TensorFlow's first look for devices without the CUDA probe's error, before Keras 3 (or
    # KerasHub, which imports TensorFlow where it is installed, on JAX too) looks.
    import tensorflow as tf
    devices.probe_quietly(tf.config.list_physical_devices)

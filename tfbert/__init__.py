"""tfbert: the classic BERT experiments in TensorFlow 2 + Keras, runnable today, offline.

Data flows one way: `tfbert.data` -> `tfbert.models` (built from `tfbert.layers`) -> `tfbert.train`
-> `tfbert.evaluate` -> `tfbert.report`. Keras 2 is imported in `tfbert.keras` only; Keras 3 in `tfbert.keras3`,
which runs in a process of its own (see there).
"""
__version__ = "0.1.0"

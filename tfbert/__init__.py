"""tfbert: the classic BERT experiments in TensorFlow 2 + Keras, runnable today, offline.

Data flows one way: `tfbert.data` -> `tfbert.models` (built from `tfbert.layers`) -> `tfbert.train`
-> `tfbert.evaluate` -> `tfbert.report`. Keras is imported in `tfbert.keras` only.
"""
__version__ = "0.1.0"

"""Keras layers (Keras 2, from `tfbert.keras`), each saving and reloading through `get_config`."""
from tfbert.layers.dropout import SeededDropout
from tfbert.layers.embedding import TokenAndPositionEmbedding
from tfbert.layers.pooling import MaskedMeanPooling
from tfbert.layers.transformer_block import TransformerBlock

__all__ = ["MaskedMeanPooling", "SeededDropout", "TokenAndPositionEmbedding", "TransformerBlock"]

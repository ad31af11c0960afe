"""The keras-io "text classification with Transformer" model, as a configurable builder.

token ids -> TokenAndPositionEmbedding -> TransformerBlock -> masked mean pooling -> dropout
-> Dense(relu) -> dropout -> Dense(num_classes) logits. Text becomes ids through a `TextVectorization`
adapted on the training texts (`build_vectorizer`), applied in the tf.data pipeline, not in the model:
the model then runs on any device, TPUs included.
"""
import dataclasses

from tfbert.keras import keras, policy, tf
from tfbert.layers import MaskedMeanPooling, SeededDropout, TokenAndPositionEmbedding, TransformerBlock
from tfbert.models.classifier import Classifier


@dataclasses.dataclass
class ScratchConfig:
    vocab_size: int = 20_000  # the textbook's; TextVectorization keeps the most frequent words
    max_length: int = 256  # the textbook's; texts are cut here, batches are padded to their own longest
    embed_dim: int = 32
    num_heads: int = 2
    key_dim: int | None = None  # per head; None = embed_dim // num_heads (the textbook's model: embed_dim)
    ff_dim: int = 32
    dropout: float = 0.1
    embedding_dropout: float = 0.0  # on the embeddings, before the block (the textbook had none)
    hidden_dim: int = 20  # the head's Dense(20, relu)
    num_classes: int = 4
    seed: int = 0  # seeds the dropout streams; weights are seeded by keras.utils.set_random_seed


PRESETS = {
    # The lesson's model exactly: 648,192 + 10,656 + 660 + 84 = 659,592 parameters (its MultiHeadAttention
    # has key_dim = embed_dim per head, twice the usual embed_dim / num_heads).
    "textbook": ScratchConfig(key_dim=32),
    # The textbook's sizes with key_dim = embed_dim / num_heads, regularized for a 5,472-example training set:
    # it overfits by epoch 3 otherwise.
    "regularized": ScratchConfig(dropout=0.5, embedding_dropout=0.3),
    # Deliberately odd sizes, for tests and quick runs: a transposed axis fails loudly.
    "tiny": ScratchConfig(vocab_size=200, max_length=32, embed_dim=12, num_heads=3, ff_dim=10, hidden_dim=6),
}


def build_vectorizer(config: ScratchConfig, texts) -> keras.layers.TextVectorization:
    """A TextVectorization adapted on `texts` (train only); it maps text to (B, None) ragged ids, 0 = padding."""
    vectorizer = keras.layers.TextVectorization(max_tokens=config.vocab_size, ragged=True)
    vectorizer.adapt(tf.constant(texts), batch_size=1024)
    return vectorizer


def encode(vectorizer, texts, config: ScratchConfig) -> tf.RaggedTensor:
    """(N, <= max_length) ragged token ids for `texts`."""
    return Vectorize(vectorizer, config.max_length)(texts)


class Vectorize(tf.Module):
    """The scratch model's preprocessor: (B,) strings -> (B, <= max_length) ragged word ids, 0 = padding."""

    def __init__(self, vectorizer: keras.layers.TextVectorization, max_length: int):
        super().__init__(name="vectorize")  # a tf.Module: the vocabulary table is saved with a SavedModel holding it
        self.vectorizer, self.max_length = vectorizer, max_length

    def __call__(self, texts) -> tf.RaggedTensor:
        return self.vectorizer(tf.convert_to_tensor(texts))[:, : self.max_length]  # (B, <= max_length)


def classifier(config: ScratchConfig, vectorizer) -> Classifier:
    """The from-scratch model in the classifier contract: `Vectorize`, then `build_classifier`'s model, whose
    features are the pooled block output and whose head is dropout -> Dense(relu) -> dropout -> logits."""
    model = build_classifier(config)
    layers = layers_of(model)
    pooled = keras.Input((config.embed_dim,), name="features")
    return Classifier(Vectorize(vectorizer, config.max_length), model,
                      keras.Model(model.inputs, layers["pooling"].output), keras.Model(pooled, head(layers, pooled)))


def build_classifier(config: ScratchConfig) -> keras.Model:
    """(B, T) int token ids -> (B, num_classes) logits; its layers are named for `layers_of`."""
    token_ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    padding_mask = tf.not_equal(token_ids, 0)  # (B, T), True at real tokens
    embedding = TokenAndPositionEmbedding(config.vocab_size, config.max_length, config.embed_dim, name="embedding")
    layers = {"embedding_dropout": SeededDropout(config.embedding_dropout, seed=config.seed + 4,
                                                 name="embedding_dropout")} if config.embedding_dropout else {}
    layers |= {
        "block": TransformerBlock(config.num_heads, config.ff_dim, config.dropout, key_dim=config.key_dim,
                                  seed=config.seed, name="block"),
        "pooling": MaskedMeanPooling(name="pooling"),
        "pooled_dropout": SeededDropout(config.dropout, seed=config.seed + 2, name="pooled_dropout"),
        "hidden": keras.layers.Dense(config.hidden_dim, activation="relu", name="hidden"),
        "hidden_dropout": SeededDropout(config.dropout, seed=config.seed + 3, name="hidden_dropout"),
        "logits": keras.layers.Dense(config.num_classes, dtype="float32", name="logits"),  # float32 under mixed policies
    }
    logits = head(layers, pool(layers, embedding(token_ids), padding_mask))  # (B, C)
    return keras.Model(token_ids, logits, name="scratch_transformer")


def float32_copy(model: keras.Model, config: ScratchConfig) -> keras.Model:
    """`model` (built under any precision policy) as a float32 model with the same weights: for TFLite, whose
    kernels are float32 (variables are float32 under every policy, so the weights carry over exactly)."""
    with policy("float32"):
        copy = build_classifier(config)
    copy.set_weights(model.get_weights())
    return copy


LAYERS = ("embedding_dropout", "block", "pooling", "pooled_dropout", "hidden", "hidden_dropout", "logits")


def layers_of(model: keras.Model) -> dict:
    """The layers `pool` and `head` run, by name, from a `build_classifier` model (built or reloaded)."""
    layers = {layer.name: layer for layer in model.layers if layer.name in LAYERS}
    missing = set(LAYERS) - {"embedding_dropout"} - set(layers)
    if missing:
        raise ValueError(f"model {model.name!r} has no layers named {sorted(missing)}: not a tfbert scratch classifier")
    return layers


def pool(layers: dict, embeddings, padding_mask, training=None):
    """(B, T, D) token + position embeddings, (B, T) mask -> (B, D): the Transformer block, mean-pooled."""
    x = embeddings
    if "embedding_dropout" in layers:
        x = layers["embedding_dropout"](x, training=training)
    x = layers["block"](x, padding_mask=padding_mask, training=training)  # (B, T, D)
    return layers["pooling"](x, padding_mask=padding_mask)  # (B, D)


def head(layers: dict, pooled, training=None):
    """(B, D) pooled features -> (B, C) logits."""
    x = layers["pooled_dropout"](pooled, training=training)
    x = layers["hidden_dropout"](layers["hidden"](x), training=training)  # (B, hidden)
    return layers["logits"](x)  # (B, C)

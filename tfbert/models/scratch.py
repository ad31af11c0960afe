"""The keras-io "text classification with Transformer" model, as an encoder adapter and its head.

token ids -> TokenAndPositionEmbedding -> TransformerBlock -> masked mean pooling (the network) -> dropout
-> Dense(relu) -> dropout -> Dense(num_classes) logits (the head). Text becomes ids through a `TextVectorization`
adapted on the training texts (`build_vectorizer`), applied in the tf.data pipeline, not in the model:
the model then runs on any device, TPUs included.
"""
import dataclasses

from tfbert import files, serving
from tfbert.keras import keras, policy, tf
from tfbert.layers import MaskedMeanPooling, SeededDropout, TokenAndPositionEmbedding, TransformerBlock
from tfbert.models.classifier import Classifier, EncoderAdapter, classifier
from tfbert.models.classifier import Family as ModelFamily


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


def network(config: ScratchConfig) -> keras.Model:
    """(B, T) int token ids -> {"sequence_output": (B, T, D), "pooled_output": (B, D) the masked mean of the block's
    output (the model has no [CLS]), "padding_mask": (B, T)}."""
    token_ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    padding_mask = tf.not_equal(token_ids, 0)  # (B, T), True at real tokens
    x = TokenAndPositionEmbedding(config.vocab_size, config.max_length, config.embed_dim, name="embedding")(token_ids)
    if config.embedding_dropout:
        x = SeededDropout(config.embedding_dropout, seed=config.seed + 4, name="embedding_dropout")(x)
    x = TransformerBlock(config.num_heads, config.ff_dim, config.dropout, key_dim=config.key_dim, seed=config.seed,
                         name="block")(x, padding_mask=padding_mask)  # (B, T, D)
    pooled = MaskedMeanPooling(name="pooling")(x, padding_mask=padding_mask)  # (B, D)
    return keras.Model(token_ids, {"sequence_output": x, "pooled_output": pooled, "padding_mask": padding_mask},
                       name="scratch_transformer")


def head(config: ScratchConfig, width: int) -> keras.Model:
    """(B, D) pooled features -> dropout -> Dense(hidden_dim, relu) -> dropout -> (B, C) float32 logits."""
    pooled = keras.Input((width,), name="features")
    x = SeededDropout(config.dropout, seed=config.seed + 2, name="pooled_dropout")(pooled)
    x = keras.layers.Dense(config.hidden_dim, activation="relu", name="hidden")(x)  # (B, hidden)
    x = SeededDropout(config.dropout, seed=config.seed + 3, name="hidden_dropout")(x)
    logits = keras.layers.Dense(config.num_classes, dtype="float32", name="logits")(x)  # float32 under mixed policies
    return keras.Model(pooled, logits, name="head")


def adapter(config: ScratchConfig, vectorizer=None) -> EncoderAdapter:
    """The keras-io model as an encoder adapter: `Vectorize` (when a vectorizer is given), `network` and its own
    head (`classifier(..., pooling="pooled")`)."""
    preprocessor = Vectorize(vectorizer, config.max_length) if vectorizer is not None else None
    return EncoderAdapter(preprocessor, network(config), lambda num_classes, width: head(config, width))


def build(config: ScratchConfig, vectorizer=None) -> Classifier:
    """The keras-io classifier: `adapter` under `models.classifier.classifier` (no preprocessor without a
    vectorizer)."""
    return classifier(adapter(config, vectorizer), config.num_classes)


def float32_copy(model: keras.Model, config: ScratchConfig) -> keras.Model:
    """`model` (built under any precision policy) as a float32 model with the same weights: for TFLite, whose
    kernels are float32 (variables are float32 under every policy, so the weights carry over exactly)."""
    with policy("float32"):
        copy = build(config).model
    copy.set_weights(model.get_weights())
    return copy


class Family(ModelFamily):
    """The keras-io Transformer, trained from scratch: a vocabulary adapted on the training texts, the recipe's
    preset, and model.keras, model.tflite and vocab.txt beside the SavedModel."""
    pretrained = False

    def describe(self, recipe) -> str:
        return f"scratch Transformer ({recipe.preset})"

    def config(self, recipe, num_classes: int) -> ScratchConfig:
        return dataclasses.replace(PRESETS[recipe.preset], seed=recipe.seed, num_classes=num_classes)

    def prepare(self, recipe, data, cache, compute):
        return build_vectorizer(self.config(recipe, len(data.class_names)), data.train.texts)  # train only

    def adapter(self, recipe, materials, num_classes: int) -> EncoderAdapter:
        return adapter(self.config(recipe, num_classes), materials)

    def model_config(self, recipe, num_classes: int) -> dict:
        return dataclasses.asdict(self.config(recipe, num_classes))

    def export(self, recipe, materials, classifier, run_dir):
        config = self.config(recipe, classifier.model.outputs[0].shape[-1])
        files.write_text(run_dir / "vocab.txt", "\n".join(materials.get_vocabulary()) + "\n")
        with files.atomic(run_dir / "model.keras") as tmp:
            classifier.model.save(tmp)
        # ids in (the tokenizer is vocab.txt): TFLite's builtin ops have no string lookup
        serving.to_tflite(float32_copy(classifier.model, config), run_dir / "model.tflite", config.max_length)

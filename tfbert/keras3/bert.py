"""KerasHub BERT as tfbert's classifier: token ids -> `BertBackbone` -> pooled (or masked-mean) features -> head.

    backbone = bert.load_backbone(folder)           # an HF BERT folder (config.json, model.safetensors, vocab.txt)
    tokenizer = bert.Tokenizer(folder / "vocab.txt", lower_case=True, max_length=128)
    ids = tokenizer(["Stocks rally as oil falls"])  # [[101, ..., 102]]: lists of ids, [CLS] ... [SEP]
    model, features, head = bert.classifier(backbone, num_classes=4)
    logits = model(padded_ids)                      # (B, T) int32 ids, 0 = padding -> (B, C) float32 logits

KerasHub converts the HF checkpoint itself (`BertBackbone.from_preset` on the folder); two things differ from HF's
model and are set right here: KerasHub builds BERT with the tanh approximation of GELU, where BERT checkpoints were
trained with the exact GELU (sequence outputs 6e-3 away from HF's), and its `from_preset` preprocessor pads every
batch to a fixed length (256 for MiniLM), where tfbert pads each batch to its own longest text.
"""
import keras
import keras_hub
import numpy as np


@keras.saving.register_keras_serializable(package="tfbert")
def gelu(x):
    """The exact GELU; on the TensorFlow backend computed in float32 for a 16-bit `x` (cast back): there the bfloat16
    erf is slower than the casts around a float32 one (benchmarks/accelerators.py, a CPU with AMX, two runs before and
    after: MiniLM's bf16 step 1.20x -> 1.37x float32). On JAX the casts made the step slower, so JAX computes in the
    input's dtype."""
    if keras.backend.standardize_dtype(x.dtype) == "float32" or keras.backend.backend() == "jax":
        return keras.activations.gelu(x, approximate=False)
    return keras.ops.cast(keras.activations.gelu(keras.ops.cast(x, "float32"), approximate=False), x.dtype)


@keras.saving.register_keras_serializable(package="tfbert")
class BertBackbone(keras_hub.models.BertBackbone):
    """KerasHub's `BertBackbone` with the exact GELU in its feed-forward layers, as BERT was trained (in float32 under
    a 16-bit policy, see `gelu`).

    Set in the constructor, so the model keeps it through `get_config` / `from_config` and a `.keras` save and
    reload (patching a built KerasHub backbone does not survive a reload: it rebuilds its layers).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for layer in self.transformer_layers:
            layer._feedforward_intermediate_dense.activation = gelu


def load_backbone(folder, dropout=0.1) -> BertBackbone:
    """The HF BERT checkpoint in `folder` as a `BertBackbone` (KerasHub's converter reads config and safetensors)."""
    converted = keras_hub.models.BertBackbone.from_preset(str(folder), dropout=dropout)
    backbone = BertBackbone.from_config(converted.get_config())
    backbone.set_weights(converted.get_weights())
    return backbone


class Tokenizer:
    """KerasHub's WordPiece tokenizer of the checkpoint's vocab.txt, packed as BERT reads a single text:
    [CLS] + at most `max_length - 2` pieces + [SEP]. Without TensorFlow it tokenizes in Python.

    `lower_case` is the checkpoint's `do_lower_case` (`tfbert.encoders.lower_case`); accents are stripped with it, as
    HF's BERT tokenizer does (KerasHub's `from_preset` does not: "café" would be [UNK]).
    """

    def __init__(self, vocab_file, lower_case=True, max_length=128):
        self.tokenizer = keras_hub.models.BertTokenizer(vocabulary=str(vocab_file), lowercase=lower_case,
                                                        strip_accents=lower_case)
        self.vocab_file, self.lower_case, self.max_length = str(vocab_file), lower_case, max_length
        self.cls, self.sep = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id

    def pieces(self, texts) -> list[list[int]]:
        """(N,) strings -> N lists of WordPiece ids, unpacked (KerasHub returns a ragged tensor with tf_text)."""
        pieces = self.tokenizer(list(texts))
        return pieces.to_list() if hasattr(pieces, "to_list") else [list(row) for row in pieces]

    def __call__(self, texts, chunk=1024) -> list[list[int]]:
        texts, ids = list(texts), []
        for start in range(0, len(texts), chunk):
            ids += [[self.cls, *row[: self.max_length - 2], self.sep] for row in self.pieces(texts[start: start + chunk])]
        return ids


def backbone_inputs(ids) -> dict:
    """(B, T) ids, 0 = padding -> the backbone's inputs (one segment)."""
    ids = keras.ops.convert_to_tensor(ids)
    return {"token_ids": ids, "segment_ids": keras.ops.zeros_like(ids),
            "padding_mask": keras.ops.cast(keras.ops.not_equal(ids, 0), "int32")}


@keras.saving.register_keras_serializable(package="tfbert")
class MaskedMean(keras.layers.Layer):
    """(B, T, H) vectors and a (B, T) padding mask -> (B, H): the mean over the real tokens."""

    def call(self, sequence, padding_mask):
        mask = keras.ops.cast(keras.ops.expand_dims(padding_mask, -1), sequence.dtype)  # (B, T, 1)
        return keras.ops.sum(sequence * mask, axis=1) / keras.ops.maximum(keras.ops.sum(mask, axis=1), 1)  # (B, H)


def classifier(backbone, num_classes: int, pooling="pooled", dropout=0.1, seed=0):
    """(model, features, head): ids (B, T) -> logits (B, C); ids -> (B, H) features; features -> logits.

    pooling: "pooled" (the backbone's tanh dense over [CLS], as HF's classifier reads) or "mean" (masked mean of
    `sequence_output`). The head is dropout -> dense with float32 logits under a mixed policy too.
    """
    ids = keras.Input((None,), dtype="int32", name="token_ids")  # (B, T)
    inputs = backbone_inputs(ids)
    outputs = backbone(inputs)
    if pooling == "pooled":
        pooled = outputs["pooled_output"]  # (B, H)
    else:
        pooled = MaskedMean(name="mean_pooling")(outputs["sequence_output"], inputs["padding_mask"])  # (B, H)
    features = keras.Input((backbone.hidden_dim,), name="features")
    hidden = keras.layers.Dropout(dropout, seed=seed)(features)
    initializer = keras.initializers.TruncatedNormal(stddev=0.02, seed=seed)  # BERT's, as HF's head
    logits = keras.layers.Dense(num_classes, kernel_initializer=initializer, dtype="float32", name="logits")(hidden)
    head = keras.Model(features, logits, name="head")
    return (keras.Model(ids, head(pooled), name="classifier"), keras.Model(ids, pooled, name="features"), head)


def pad(rows, length=None) -> np.ndarray:
    """Lists of ids -> (B, T) int32, padded with 0 to the longest row, or to `length`."""
    length = length or max(len(row) for row in rows)
    padded = np.zeros((len(rows), length), np.int32)
    for i, row in enumerate(rows):
        padded[i, : min(len(row), length)] = row[:length]
    return padded


def hf_weights(backbone: BertBackbone) -> dict:
    """The backbone's weights under HF `BertModel`'s names and (PyTorch) layouts: KerasHub's converter inverted, so
    that HF's BERT (and tfbert's interpretability tools, which read it) loads a model trained here."""
    def value(variable):
        return np.asarray(keras.ops.convert_to_numpy(variable), np.float32)

    def dense(prefix, layer, hidden):  # Keras (in, ..., out) kernels -> HF (out, in) weights
        kernel = value(layer.kernel)
        kernel = kernel.reshape(hidden, -1) if kernel.shape[0] == hidden else kernel.reshape(-1, hidden)
        return {f"{prefix}.weight": kernel.T.copy(), f"{prefix}.bias": value(layer.bias).reshape(-1)}

    def norm(prefix, layer):
        return {f"{prefix}.weight": value(layer.gamma), f"{prefix}.bias": value(layer.beta)}

    h = backbone.hidden_dim
    weights = {"embeddings.word_embeddings.weight": value(backbone.token_embedding.embeddings),
               "embeddings.position_embeddings.weight": value(backbone.position_embedding.position_embeddings),
               "embeddings.token_type_embeddings.weight": value(backbone.segment_embedding.embeddings),
               **norm("embeddings.LayerNorm", backbone.embeddings_layer_norm),
               **dense("pooler.dense", backbone.pooled_dense, h)}
    for i, block in enumerate(backbone.transformer_layers):
        layer, attention = f"encoder.layer.{i}", block._self_attention_layer
        for name, part in (("query", attention.query_dense), ("key", attention.key_dense),
                           ("value", attention.value_dense)):
            weights |= dense(f"{layer}.attention.self.{name}", part, h)
        weights |= dense(f"{layer}.attention.output.dense", attention.output_dense, h)
        weights |= norm(f"{layer}.attention.output.LayerNorm", block._self_attention_layer_norm)
        weights |= dense(f"{layer}.intermediate.dense", block._feedforward_intermediate_dense, h)
        weights |= dense(f"{layer}.output.dense", block._feedforward_output_dense, h)
        weights |= norm(f"{layer}.output.LayerNorm", block._feedforward_layer_norm)
    return weights

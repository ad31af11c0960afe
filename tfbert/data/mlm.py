"""Masked-language-model batches, masked inside tf.data: no Python collator in the training loop.

BERT's recipe: 15% of the tokens are chosen (never special or padding tokens); of those, 80% become
`<mask>`, 10% a random token, 10% stay as they are. The loss is computed on the chosen tokens only
(label -100 elsewhere, which HF's TF models ignore). The masks of a batch are a pure function of
(seed, epoch, batch number), so training is repeatable and resumable, and the held-out set is masked
the same way at every evaluation.

With static shapes (XLA, TPUs) batches are padded to fixed lengths and full, and each batch also lists the
flat positions of its chosen tokens in a fixed-size vector ("chosen", padded, with "chosen_weights" 1 for a
chosen token and 0 for padding): room for `CHOSEN_SHARE` of the batch's tokens. Should more be drawn (rare:
the expected share is 15 % of the real tokens), the later ones are not chosen, so the loss over "chosen"
always equals the loss over the labels.
"""
from typing import Callable

from tfbert.data import pipeline
from tfbert.keras import tf

IGNORE = -100  # label of tokens that are not scored
CHOSEN_SHARE = 0.2  # static shapes: the chosen positions a batch has room for, as a share of its B x T tokens


def mask_tokens(ids, key, *, mask_id: int, vocab_size: int, special_ids, rate: float = 0.15, max_chosen=None):
    """Masks a padded batch.

    Args:
        ids: (B, T) token ids, padding included.
        key: (2,) int64 stateless seed.
        mask_id: the `<mask>` id.
        vocab_size: random replacements are drawn from [0, vocab_size).
        special_ids: ids that are never chosen (`<s>`, `</s>`, `<pad>`, ...).
        rate: the fraction of tokens chosen.
        max_chosen: choose at most this many tokens in the batch (the first ones, row by row).

    Returns:
        (inputs (B, T), labels (B, T)): labels hold the original id where a token was chosen, -100 elsewhere.
    """
    choose_key, how_key, random_key = tf.unstack(tf.random.experimental.stateless_split(key, 3))
    shape = tf.shape(ids)
    candidates = tf.reduce_all(ids[..., None] != tf.constant(special_ids, ids.dtype), axis=-1)  # (B, T)
    chosen = (tf.random.stateless_uniform(shape, choose_key) < rate) & candidates
    if max_chosen is not None:
        flat = tf.reshape(chosen, [-1])  # (B * T,)
        chosen = tf.reshape(flat & (tf.cumsum(tf.cast(flat, tf.int32)) <= max_chosen), shape)
    how = tf.random.stateless_uniform(shape, how_key)  # < 0.8: mask, < 0.9: random token, else keep
    random_ids = tf.random.stateless_uniform(shape, random_key, minval=0, maxval=vocab_size, dtype=ids.dtype)
    inputs = tf.where(chosen & (how < 0.8), tf.constant(mask_id, ids.dtype), ids)
    inputs = tf.where(chosen & (how >= 0.8) & (how < 0.9), random_ids, inputs)
    return inputs, tf.where(chosen, ids, tf.constant(IGNORE, ids.dtype))


def chosen_positions(labels, size):
    """(size,) int32 flat positions of the chosen tokens of (B, T) `labels`, in order, then padding; (size,) float32
    weights: 1 at a chosen token, 0 at padding."""
    chosen = tf.reshape(labels, [-1]) != IGNORE  # (B * T,)
    positions = tf.argsort(tf.cast(~chosen, tf.int32), stable=True)[:size]  # chosen ones first
    return tf.cast(positions, tf.int32), tf.cast(tf.gather(chosen, positions), tf.float32)


def mlm_batches(ids: tf.RaggedTensor, batch_size: int, seed: int, epoch: Callable[[], tf.Tensor], *, pad_id: int,
                mask_id: int, vocab_size: int, special_ids, rate=0.15, max_batches=None, pad_lengths=None,
                drop_remainder=False, full_batches=False) -> tf.data.Dataset:
    """One epoch of {"input_ids", "attention_mask", "labels"} (B, T) batches, T = the batch's longest line.

    `epoch` works as in `pipeline.train_batches`; pass `lambda: -1` for a fixed held-out set.
    Static shapes: `pad_lengths` (T one of them), and `drop_remainder` (training) or `full_batches` (held out: the
    last batch filled with padding rows, which have nothing to score); the batches then also hold "chosen" and
    "chosen_weights" (see the module docstring).
    """
    static = pad_lengths is not None
    rows = batch_size if drop_remainder or full_batches else None

    def features(e, b, index):
        padded = pipeline.pad_batch(tf.gather(ids, index), pad_lengths, rows, pad_id=pad_id)  # (B, T)
        key = tf.stack([tf.constant(seed, tf.int64), e * 1_000_003 + b])
        room = None
        if static:
            room = tf.cast(tf.math.ceil(CHOSEN_SHARE * tf.cast(tf.size(padded), tf.float32)), tf.int32)
        inputs, labels = mask_tokens(padded, key, mask_id=mask_id, vocab_size=vocab_size, special_ids=special_ids,
                                     rate=rate, max_chosen=room)
        batch = {"input_ids": inputs, "attention_mask": tf.cast(padded != pad_id, padded.dtype), "labels": labels}
        if static:
            batch["chosen"], batch["chosen_weights"] = chosen_positions(labels, room)  # (M,) each
        return batch

    batches = pipeline.index_batches(int(ids.nrows()), batch_size, seed, epoch, drop_remainder, max_batches)
    return batches.map(features, num_parallel_calls=pipeline.AUTOTUNE).prefetch(pipeline.AUTOTUNE)

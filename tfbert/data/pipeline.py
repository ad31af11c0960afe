"""tf.data pipelines from token ids that were encoded once, up front.

Each batch is padded to its own longest sequence (AG News averages 53 WordPiece tokens; padding
everything to 256 wastes most of the compute). With static shapes (XLA, TPUs), which compile one program
per shape, a batch is padded instead to the first of a few fixed `pad_lengths` (multiples of 16, say) that
holds its longest row, training batches are full (`drop_remainder`), and evaluation batches are filled up
to full size with copies of real rows weighted 0 (`full_batches`), so every example is scored once.
Padding is id 0 (TextVectorization's and BERT WordPiece's), or the `pad_id` given (RoBERTa's is 1).
With `lengths`, training batches are drawn from length buckets: each epoch's shuffled order is cut into
chunks of `BUCKET_BATCHES` batches, each chunk sorted by length, and the batches shuffled again, so a
batch holds texts of similar length and little padding (about half the compute of random batches on AG News).

The training order of epoch `e` is a pure function of `(seed, e)`, and `e` is read when the epoch's
iterator starts, from a callable such as `lambda: optimizer.iterations // steps_per_epoch`. So a run
restored from a checkpoint in the middle of training sees exactly the batches an uninterrupted run sees.
"""
from typing import Callable

from tfbert.data.lengths import BUCKET_BATCHES, pad_lengths  # noqa: F401  (part of this module's interface)
from tfbert.keras import tf

AUTOTUNE = tf.data.AUTOTUNE


def epoch_order(n: int, seed: int, epoch) -> tf.Tensor:
    """(n,) int32: a permutation of range(n) that depends only on (seed, epoch)."""
    key = tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)])
    return tf.argsort(tf.random.stateless_uniform([n], seed=key))


def pad_batch(ids: tf.RaggedTensor, lengths=None, rows=None, pad_id=0):
    """(B, None) ragged ids -> (B, T) dense.

    T is the longest row, or with `lengths` (ascending ints) the first of them that holds the longest row
    (longer rows are cut to the last). `rows` fixes B statically; missing rows are all padding.
    """
    if lengths is None:
        return ids.to_tensor(pad_id)  # (B, longest in batch)
    if len(lengths) == 1:
        return ids.to_tensor(pad_id, shape=[rows, lengths[0]])  # (B, L), a fully static shape
    bounds = tf.constant(lengths, tf.int64)
    longest = tf.reduce_max(ids.row_lengths())
    index = tf.minimum(tf.searchsorted(bounds, tf.reshape(longest, [1]))[0], len(lengths) - 1)
    rows = -1 if rows is None else rows
    return ids.to_tensor(pad_id, shape=tf.stack([tf.constant(rows, tf.int64), bounds[index]]))  # (B, T)


def index_batches(n: int, batch_size: int, seed: int, epoch: Callable[[], tf.Tensor], drop_remainder=False,
                  max_batches: int | None = None, lengths=None) -> tf.data.Dataset:
    """One epoch of (epoch, batch number, (B,) example indices), shuffled by (seed, epoch).

    `epoch()` is read once, when iteration starts. `max_batches` cuts the epoch short (quick runs).
    `lengths` ((n,) ints) makes batches of similar lengths (see the module docstring). `drop_remainder`
    leaves out the last `n % batch_size` examples of the shuffled order: different ones each epoch.
    """
    def one_epoch(_):
        e = tf.cast(epoch(), tf.int64)
        order = epoch_order(n, seed, e)[:kept]  # (kept,)
        if lengths is None:
            indices = tf.data.Dataset.from_tensor_slices(order)
            return indices.batch(batch_size, drop_remainder=drop_remainder).enumerate().map(lambda b, i: (e, b, i))
        chunk = tf.range(kept, dtype=tf.int64) // (batch_size * BUCKET_BATCHES)  # (kept,)
        key = chunk * (tf.reduce_max(lengths) + 1) + tf.gather(lengths, order)  # sorts by (chunk, length)
        order = tf.gather(order, tf.argsort(key, stable=True))
        batch_order = epoch_order(num_batches, seed + 1, e)  # (num_batches,) the buckets' order
        return tf.data.Dataset.from_tensor_slices(batch_order).enumerate().map(
            lambda b, k: (e, b, order[k * batch_size: tf.minimum((k + 1) * batch_size, kept)]))

    num_batches = n // batch_size if drop_remainder else -(-n // batch_size)
    kept = num_batches * batch_size if drop_remainder else n
    if lengths is not None:
        lengths = tf.cast(tf.convert_to_tensor(lengths), tf.int64)
    batches = tf.data.Dataset.range(1).flat_map(one_epoch)
    if max_batches is not None and max_batches < num_batches:
        batches, num_batches = batches.take(max_batches), max_batches
    # Declared, so Keras knows the epoch's length from the start (progress bar; no probing step past the end).
    return batches.apply(tf.data.experimental.assert_cardinality(num_batches))


def gather_batch(inputs, index, lengths=None, rows=None, pad_id=0):
    """Rows `index` of `inputs`: ragged ids are padded to (B, T); strings or dense features as they are."""
    picked = tf.gather(inputs, index)
    return pad_batch(picked, lengths, rows, pad_id) if isinstance(picked, tf.RaggedTensor) else picked


def train_batches(
    ids,
    labels,
    batch_size: int,
    seed: int,
    epoch: Callable[[], tf.Tensor],
    pad_lengths=None,
    drop_remainder: bool = False,
    lengths=None,
) -> tf.data.Dataset:
    """Shuffled (ids (B, T), labels (B,)) batches for one epoch; iterate again for the next epoch.

    Args:
        ids: (N, None) ragged token ids; or (N,) strings, or (N, D) features, batched as they are.
        labels: (N,) integer labels.
        batch_size: the global batch size (per-replica batch x replicas).
        seed: the training seed.
        epoch: returns the index of the epoch about to start, as a scalar tensor.
        pad_lengths: static shapes: pad each batch to the first of these lengths that holds its longest row.
        drop_remainder: full batches only (static shapes): `len(ids) % batch_size` examples sit out each epoch.
        lengths: (N,) token counts: batch texts of similar length together (length buckets).
    """
    labels = tf.convert_to_tensor(labels)
    rows = batch_size if drop_remainder else None
    n = int(ids.nrows()) if isinstance(ids, tf.RaggedTensor) else len(ids)
    batches = index_batches(n, batch_size, seed, epoch, drop_remainder, lengths=lengths)
    batches = batches.map(
        lambda e, b, index: (gather_batch(ids, index, pad_lengths, rows),
                             tf.ensure_shape(tf.gather(labels, index), [rows])),  # (B,), static with drop_remainder
        num_parallel_calls=AUTOTUNE,
    )
    return batches.prefetch(AUTOTUNE)


def eval_batches(ids, labels, batch_size: int, pad_lengths=None, full_batches: bool = False, order=None
                 ) -> tf.data.Dataset:
    """(ids (B, T), labels (B,)) batches in file order (or in `order`, e.g. by length), cached after the first pass.

    `ids` as in `train_batches`. `order` ((N,) indices) changes which rows come first: fine for metrics,
    and `evaluate.predict_in_order` puts predictions back in file order and drops any filler rows.
    `full_batches` (static shapes): (ids, labels, weights) batches, all of `batch_size` rows; the last is filled
    up with copies of the first rows, weighted 0, so weighted metrics count every example exactly once.
    """
    n = int(ids.nrows()) if isinstance(ids, tf.RaggedTensor) else len(ids)
    order = tf.range(n) if order is None else tf.convert_to_tensor(order)
    weights = tf.ones([n])
    if full_batches:
        total = -(-n // batch_size) * batch_size
        order = tf.gather(order, tf.range(total) % n)  # (total,): the first rows again at the end
        weights = tf.concat([weights, tf.zeros([total - n])], axis=0)
    ids, labels = tf.gather(ids, order), tf.gather(tf.convert_to_tensor(labels), order)
    rows = batch_size if full_batches else None
    ds = tf.data.Dataset.from_tensor_slices((ids, labels, weights)).batch(batch_size, drop_remainder=full_batches)
    if isinstance(ids, tf.RaggedTensor):
        ds = ds.map(lambda x, y, w: (pad_batch(x, pad_lengths, rows), y, w), num_parallel_calls=AUTOTUNE)
    if not full_batches:
        ds = ds.map(lambda x, y, w: (x, y))
    return ds.cache().prefetch(AUTOTUNE)

"""tf.data batches: padded to their own longest row, and an epoch's order depends only on (seed, epoch)."""
import numpy as np

from tfbert import evaluate
from tfbert.data import pipeline
from tfbert.keras import keras, tf

IDS = tf.ragged.constant([[i + 1] * (1 + i % 5) for i in range(23)], dtype=tf.int64)  # lengths 1..5
LABELS = np.arange(23) % 4


def epoch_batches(seed, epoch):
    return list(pipeline.train_batches(IDS, LABELS, batch_size=5, seed=seed, epoch=lambda: tf.constant(epoch)))


def first_ids(batches):
    return np.concatenate([ids[:, 0].numpy() for ids, *_ in batches])


def test_an_epoch_sees_every_example_once_in_batches_padded_to_their_longest_row():
    batches = epoch_batches(seed=3, epoch=0)
    assert [len(y) for _, y in batches] == [5, 5, 5, 5, 3]
    assert sorted(first_ids(batches)) == list(range(1, 24))
    for ids, labels in batches:
        lengths = np.count_nonzero(ids.numpy(), axis=1)
        assert ids.shape[1] == lengths.max()  # no padding beyond the longest row
        np.testing.assert_array_equal(labels.numpy(), LABELS[ids[:, 0].numpy() - 1])  # labels follow their ids


def test_the_order_is_a_function_of_seed_and_epoch_only():
    np.testing.assert_array_equal(first_ids(epoch_batches(3, 1)), first_ids(epoch_batches(3, 1)))
    assert not np.array_equal(first_ids(epoch_batches(3, 0)), first_ids(epoch_batches(3, 1)))
    assert not np.array_equal(first_ids(epoch_batches(3, 0)), first_ids(epoch_batches(4, 0)))


def test_the_epoch_is_read_when_iteration_starts_not_when_the_dataset_is_built():
    epoch = tf.Variable(0, dtype=tf.int64)
    dataset = pipeline.train_batches(IDS, LABELS, batch_size=5, seed=3, epoch=lambda: epoch)
    epoch.assign(2)
    np.testing.assert_array_equal(first_ids(list(dataset)), first_ids(epoch_batches(3, 2)))


def test_the_padded_lengths_are_multiples_up_to_the_longest_allowed():
    assert pipeline.pad_lengths(128, 32) == (32, 64, 96, 128)
    assert pipeline.pad_lengths(100, 32) == (32, 64, 96, 100)


def test_static_shapes_pad_to_a_fixed_length_drop_the_remainder_and_give_a_static_batch_dimension():
    dataset = pipeline.train_batches(IDS, LABELS, 5, seed=0, epoch=lambda: 0, pad_lengths=(2, 4, 7),
                                     drop_remainder=True)
    assert dataset.element_spec[0].shape.as_list() == [5, None] and dataset.element_spec[1].shape.as_list() == [5]
    batches = list(dataset)
    assert len(batches) == 4 and {ids.shape[1] for ids, _ in batches} <= {2, 4, 7}
    for ids, _ in batches:  # the first allowed length that holds the longest row
        longest = np.count_nonzero(ids.numpy(), axis=1).max()
        assert ids.shape[1] == min(length for length in (2, 4, 7) if length >= longest)
    assert len(set(first_ids(batches))) == 20  # 3 of 23 examples sit out this epoch...
    assert set(first_ids(batches)) != set(first_ids(epoch_batches_static(1)))  # ...other ones the next epoch
    one_length = pipeline.train_batches(IDS, LABELS, 5, seed=0, epoch=lambda: 0, pad_lengths=(7,), drop_remainder=True)
    assert [ids.shape.as_list() for ids, _ in one_length] == [[5, 7]] * 4


def epoch_batches_static(epoch):
    return list(pipeline.train_batches(IDS, LABELS, 5, seed=0, epoch=lambda: epoch, pad_lengths=(2, 4, 7),
                                       drop_remainder=True))


def test_full_evaluation_batches_weigh_filler_rows_zero_so_every_example_counts_once():
    dataset = pipeline.eval_batches(IDS, LABELS, batch_size=5, pad_lengths=(8,), full_batches=True)
    assert [spec.shape.as_list() for spec in dataset.element_spec] == [[5, 8], [5], [5]]
    batches = list(dataset)
    weights = np.concatenate([w.numpy() for _, _, w in batches])
    assert len(weights) == 25 and weights.tolist() == [1.0] * 23 + [0.0] * 2
    assert first_ids(batches)[:23].tolist() == list(range(1, 24))  # file order, then two copies of real rows
    model = keras.Sequential([keras.layers.Lambda(lambda ids: tf.cast(ids[:, :1], tf.float32))])
    np.testing.assert_array_equal(evaluate.predict_in_order(model, dataset, np.arange(23))[:, 0], np.arange(1, 24))


def test_length_buckets_with_a_dropped_remainder_still_sort_by_length_and_drop_random_examples():
    n, lengths = 400, (np.arange(400) * 7919) % 97 + 1
    ids = tf.RaggedTensor.from_row_lengths(tf.repeat(tf.range(1, n + 1, dtype=tf.int64), lengths), lengths)
    kept = [set(first_ids(pipeline.train_batches(ids, np.arange(n) % 4, 7, 0, lambda: e, (32, 64, 97), True, lengths)))
            for e in (0, 1)]
    assert len(kept[0]) == len(kept[1]) == 399 and kept[0] != kept[1]  # 400 // 7 * 7


def test_eval_batches_keep_file_order():
    batches = list(pipeline.eval_batches(IDS, LABELS, batch_size=5))
    assert first_ids(batches).tolist() == list(range(1, 24))


def bucket_batches(seed, epoch, n=400, batch_size=8):
    lengths = (np.arange(n) * 7919) % 97 + 1  # (n,) lengths 1..97 in no order
    ids = tf.RaggedTensor.from_row_lengths(tf.repeat(tf.range(1, n + 1, dtype=tf.int64), lengths), lengths)
    dataset = pipeline.train_batches(ids, np.arange(n) % 4, batch_size, seed, lambda: epoch, lengths=lengths)
    return list(dataset), lengths


def test_length_buckets_see_every_example_once_with_less_padding_and_a_seeded_order():
    batches, lengths = bucket_batches(seed=0, epoch=0)
    seen = first_ids(batches) - 1
    assert sorted(seen) == list(range(400)) and len(batches) == 50
    padded = sum(ids.shape[0] * ids.shape[1] for ids, _ in batches)
    random_padded = sum(ids.shape[0] * ids.shape[1] for ids, _ in pipeline.train_batches(
        tf.RaggedTensor.from_row_lengths(tf.ones(lengths.sum(), tf.int64), lengths), np.zeros(400), 8, 0, lambda: 0))
    assert padded < 0.65 * random_padded  # near lengths.sum(): little padding
    np.testing.assert_array_equal(first_ids(bucket_batches(0, 0)[0]), first_ids(batches))
    assert not np.array_equal(first_ids(bucket_batches(0, 1)[0]), first_ids(batches))
    batch_lengths = [np.count_nonzero(ids.numpy(), axis=1).max() for ids, _ in batches]
    assert batch_lengths != sorted(batch_lengths)  # the buckets come in a shuffled order, not shortest first


def test_strings_and_features_are_batched_as_they_are():
    texts = tf.constant([f"text {i}" for i in range(10)])
    (strings, labels), = list(pipeline.train_batches(texts, np.arange(10), 10, 0, lambda: 0))
    assert sorted(strings.numpy().tolist()) == sorted(texts.numpy().tolist())
    features = np.arange(20, dtype=np.float32).reshape(10, 2)
    for x, y in pipeline.train_batches(features, np.arange(10), 4, 0, lambda: 0):
        np.testing.assert_array_equal(x.numpy()[:, 0], 2 * y.numpy())


def test_eval_batches_in_another_order_are_put_back_by_predict_in_order():
    order = evaluate.by_length(IDS.row_lengths().numpy())
    identity = keras.Sequential([keras.layers.Lambda(lambda ids: tf.cast(ids[:, :1], tf.float32))])
    restored = evaluate.predict_in_order(identity, pipeline.eval_batches(IDS, LABELS, 5, order=order), order)
    np.testing.assert_array_equal(restored[:, 0], np.arange(1, 24))

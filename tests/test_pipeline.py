"""tf.data batches: padded to their own longest row, and an epoch's order depends only on (seed, epoch)."""
import numpy as np

from tfbert.data import pipeline
from tfbert.keras import tf

IDS = tf.ragged.constant([[i + 1] * (1 + i % 5) for i in range(23)], dtype=tf.int64)  # lengths 1..5
LABELS = np.arange(23) % 4


def epoch_batches(seed, epoch):
    return list(pipeline.train_batches(IDS, LABELS, batch_size=5, seed=seed, epoch=lambda: tf.constant(epoch)))


def first_ids(batches):
    return np.concatenate([ids[:, 0].numpy() for ids, _ in batches])


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


def test_fixed_length_padding_and_dropped_remainder_give_static_shapes_for_tpus():
    dataset = pipeline.train_batches(IDS, LABELS, 5, seed=0, epoch=lambda: 0, pad_to=7, drop_remainder=True)
    assert dataset.element_spec[0].shape.as_list() == [5, 7]
    assert len(list(dataset)) == 4


def test_eval_batches_keep_file_order():
    batches = list(pipeline.eval_batches(IDS, LABELS, batch_size=5))
    assert first_ids(batches).tolist() == list(range(1, 24))

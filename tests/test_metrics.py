"""MCC, checked against sklearn.metrics.matthews_corrcoef."""
import numpy as np
import pytest
from sklearn.metrics import matthews_corrcoef as sklearn_mcc

from tfbert.keras import tf
from tfbert.metrics import MatthewsCorrelation, matthews_corrcoef


@pytest.mark.parametrize("seed", range(5))
def test_mcc_equals_sklearn_on_random_predictions_streamed_in_batches(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    logits = rng.normal(size=(300, 2)) + 0.8 * np.eye(2)[labels]  # better than chance
    expected = sklearn_mcc(labels, logits.argmax(1))
    metric = MatthewsCorrelation()
    for start in range(0, 300, 64):
        metric.update_state(tf.constant(labels[start:start + 64]), tf.constant(logits[start:start + 64]))
    assert metric.result().numpy() == pytest.approx(expected, abs=1e-6)
    assert matthews_corrcoef(labels, logits.argmax(1)) == pytest.approx(expected, abs=1e-12)


def test_always_the_majority_class_is_accurate_but_has_mcc_zero():
    labels = np.array([1] * 70 + [0] * 30)
    majority = np.ones(100, dtype=int)
    assert np.mean(labels == majority) == 0.7
    assert matthews_corrcoef(labels, majority) == sklearn_mcc(labels, majority) == 0.0
    metric = MatthewsCorrelation()
    metric.update_state(tf.constant(labels), tf.one_hot(majority, 2))
    assert metric.result().numpy() == 0.0
    metric.reset_state()
    metric.update_state(tf.constant(labels), tf.one_hot(labels, 2))
    assert metric.result().numpy() == pytest.approx(1.0)

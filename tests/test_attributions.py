"""Word attributions (integrated gradients, SHAP, LIME, attention, rollout) on words, and ERASER's faithfulness
scores, on a tiny random BERT and a tiny scratch model."""
import numpy as np
import pytest

from tfbert import interpret
from tfbert.interpret import attributions
from tfbert.interpret.attributions import WordAttribution

from conftest import write_scratch_run

TEXT = "Elections and matches: the coach says goals matter!"  # "elections" and "goals": two WordPieces each


@pytest.fixture(scope="module")
def hf_words(hf_run):  # noqa: F811
    return attributions.WordExplainer(interpret.BertExplainer.from_run(hf_run[0]), shap_evals=40, lime_samples=40)


def test_a_words_score_is_the_sum_of_its_pieces_and_every_word_of_the_text_has_one(hf_words):
    words = attributions.words_of(TEXT)
    counts = hf_words.explainer.counts(words)
    assert words[0] == "Elections" and counts[0] == 2  # election ##s
    tokens, _ = hf_words.explainer.attention(TEXT)
    assert sum(counts) == len(tokens) - 2  # [CLS] and [SEP] around the words' tokens
    ig = hf_words.explain("integrated_gradients", TEXT)
    token_scores = hf_words.explainer.attributions(TEXT, ig.label).scores
    assert len(ig.scores) == len(words)
    np.testing.assert_allclose(ig.scores.sum(), token_scores[1:-1].sum(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ig.scores[0], token_scores[1:3].sum(), rtol=1e-5, atol=1e-6)


def test_sum_into_words_gives_words_cut_off_by_the_length_limit_zero():
    np.testing.assert_array_equal(attributions.sum_into_words([1.0, 2.0, 3.0, 4.0], [1, 2, 0, 3]), [1, 5, 0, 4])


@pytest.mark.parametrize("method", attributions.EXPLAINERS)
def test_every_explainer_gives_one_score_per_word_for_the_class_asked(hf_words, method):
    explained = hf_words.explain(method, TEXT, label=2)
    assert explained.method == method and explained.label == 2 and explained.words == TEXT.split()
    assert explained.scores.shape == (len(TEXT.split()),) and np.isfinite(explained.scores).all()
    assert explained.seconds > 0


def test_shap_and_lime_recover_the_one_word_a_model_reads():
    """A model whose class-1 probability is 0.9 when "goal" is in the text, else 0.2: SHAP gives "goal" 0.7 (the
    whole difference from the empty text), LIME ranks it first."""
    class KeyWord:
        class_names = ["other", "goal"]
        text_tokens = (0, 0)

        def probabilities(self, texts):
            p = np.array([0.9 if "goal" in text.split() else 0.2 for text in texts])
            return np.stack([1 - p, p], axis=1)

    words = attributions.WordExplainer(KeyWord(), shap_evals=100, lime_samples=200)
    shap_scores = words.explain("shap", "the coach says goal now", label=1).scores
    np.testing.assert_allclose(shap_scores, [0, 0, 0, 0.7, 0], atol=1e-6)
    assert np.argmax(words.explain("lime", "the coach says goal now", label=1).scores) == 3


def test_the_scratch_model_gets_word_scores_too_punctuation_only_words_scoring_zero(tmp_path):
    write_scratch_run(tmp_path)
    words = attributions.WordExplainer(interpret.ScratchExplainer.from_run(tmp_path), shap_evals=40,
                                       lime_samples=40)
    text = "the coach - says internet chip"
    assert words.explainer.counts(text.split()) == [1, 1, 0, 1, 1, 1]
    for method in ("integrated_gradients", "attention", "rollout"):
        scores = words.explain(method, text).scores
        assert scores.shape == (6,) and scores[2] == 0
    probabilities = words.probabilities(["", "the coach", "-"])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)


def test_rollout_keeps_rows_summing_to_one_and_is_the_identity_without_mixing():
    rng = np.random.default_rng(0)
    attention = rng.random((3, 2, 5, 5))
    attention /= attention.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(attributions.rollout(attention).sum(axis=-1), 1)
    np.testing.assert_allclose(attributions.rollout(np.broadcast_to(np.eye(5), (3, 2, 5, 5))), np.eye(5))


def test_eraser_scores_a_faithful_explanation_above_an_unfaithful_one():
    """With a model that reads one word, the explanation ranking that word first removes all the evidence
    (comprehensiveness 0.7) and keeps all of it (sufficiency 0); the one ranking it last does neither at 20 %."""
    class KeyWord:
        @staticmethod
        def probabilities(texts):
            p = np.array([0.9 if "goal" in text.split() else 0.2 for text in texts])
            return np.stack([1 - p, p], axis=1)

    words = "the coach says a late goal won the match again".split()  # 10 words, "goal" at 5
    right = WordAttribution("right", words, np.eye(10)[5], 1, 0.0)
    wrong = WordAttribution("wrong", words, -np.eye(10)[5], 1, 0.0)
    faithful, unfaithful = (attributions.erasure_scores(KeyWord(), [a]) for a in (right, wrong))
    assert faithful["comprehensiveness"] == pytest.approx({10: 0.7, 20: 0.7, 50: 0.7})
    assert faithful["sufficiency"] == pytest.approx({10: 0.0, 20: 0.0, 50: 0.0})
    assert unfaithful["comprehensiveness"][20] == pytest.approx(0) and unfaithful["sufficiency"][20] == pytest.approx(0.7)
    assert faithful["comprehensiveness_mean"] > unfaithful["comprehensiveness_mean"]

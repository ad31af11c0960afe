"""Word attributions from several explainers, and how faithful each one is.

    words = attributions.WordExplainer(interpret.from_run("runs/agnews/hf_finetune"))
    shap_scores = words.explain("shap", text)          # a WordAttribution: one score per word of the text
    table = attributions.faithfulness(words, texts, ["integrated_gradients", "shap", "lime", "random"])

A *word* is a whitespace-separated piece of the text, the unit a reader sees (punctuation stays attached).
Every explainer scores the same words: integrated gradients and attention score the model's tokens, and a
word's score is the sum of its tokens' (WordPiece splits "unbelievably" into several pieces; the scratch model
drops punctuation-only words, which score 0); SHAP (a `shap.maskers.Text` over the raw text, masked words
removed) and LIME (`LimeTextExplainer`, words removed) perturb the raw text word by word through the
model's own tokenizer. Scores are for one class: the predicted one unless given.

Explainers:
    integrated_gradients  Sundararajan et al. 2017, from the explainer's baseline (tfbert.interpret)
    shap                  SHAP's partition explainer (Lundberg and Lee 2017) on words
    lime                  LIME (Ribeiro et al. 2016), a local linear model on word removals
    attention             the last layer's attention from [CLS] (the scratch model: attention received), mean of heads
    rollout               attention rollout (Abnar and Zuidema 2020): heads averaged, the residual added, layers multiplied
    random                random scores: the floor every explainer must clear

Faithfulness (ERASER, DeYoung et al. 2020): with the top k % of words by score removed, how much the predicted
class's probability drops (comprehensiveness: higher is more faithful), and with only them kept, how much it drops
(sufficiency: lower is more faithful); k = 10, 20, 50 and their mean.
"""
import dataclasses
import math
import time

import numpy as np

EXPLAINERS = ("integrated_gradients", "shap", "lime", "attention", "rollout", "random")
PERCENTS = (10, 20, 50)


@dataclasses.dataclass
class WordAttribution:
    method: str
    words: list[str]  # W whitespace-separated words of the text
    scores: np.ndarray  # (W,) each word's contribution to the class's score
    label: int  # the class explained
    seconds: float  # time to compute


def words_of(text: str) -> list[str]:
    return text.split()


def sum_into_words(token_scores, counts) -> np.ndarray:
    """(T,) scores of the text's tokens (no special tokens) -> (W,) sums over each word's `counts[w]` tokens. Tokens
    past the last one (a text cut at the model's length) score 0."""
    token_scores = np.asarray(token_scores, dtype=np.float64)
    ends = np.cumsum(counts)
    starts = ends - np.asarray(counts)
    return np.array([token_scores[start:min(end, len(token_scores))].sum() for start, end in zip(starts, ends)])


def rollout(attention) -> np.ndarray:
    """(L, heads, T, T) attention -> (T, T) attention rollout: at each layer the mean over heads plus the identity
    (the residual connection), rows renormalised, multiplied from the first layer up."""
    result = np.eye(attention.shape[-1])
    for layer in attention:
        mixed = 0.5 * layer.mean(axis=0) + 0.5 * np.eye(layer.shape[-1])
        result = (mixed / mixed.sum(axis=-1, keepdims=True)) @ result
    return result


class WordExplainer:
    """Word attributions for a classifier explainer of `tfbert.interpret` (HF or scratch).

    Args:
        explainer: `interpret.BertExplainer` or `interpret.ScratchExplainer`: it gives probabilities for texts,
            tokens per word, attention and integrated gradients.
        shap_evals: SHAP's model evaluations per text (its `max_evals`).
        lime_samples: LIME's perturbed texts per text (its `num_samples`).
        seed: seeds LIME and the random explainer.
    """

    def __init__(self, explainer, shap_evals=300, lime_samples=300, seed=0, steps=50):
        self.explainer, self.shap_evals, self.lime_samples, self.steps = explainer, shap_evals, lime_samples, steps
        self._attributions = {}  # (text, label) -> the explainer's Attribution
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.class_names = explainer.class_names

    def probabilities(self, texts) -> np.ndarray:
        """(N, C) class probabilities for N raw texts."""
        return self.explainer.probabilities(list(texts))

    def explain(self, method: str, text: str, label=None) -> WordAttribution:
        if method not in EXPLAINERS:
            raise ValueError(f"unknown explainer {method!r}; choose one of {', '.join(EXPLAINERS)}")
        words = words_of(text)
        if not words:
            raise ValueError("an empty text has no words to explain")
        if label is None:
            label = int(np.argmax(self.probabilities([text])[0]))
        started = time.perf_counter()
        scores = getattr(self, method)(text, words, label)
        return WordAttribution(method, words, np.asarray(scores, dtype=np.float64), label,
                               time.perf_counter() - started)

    def token_scores_to_words(self, token_scores, words) -> np.ndarray:
        """(T,) scores over the explainer's tokens (specials included) -> (W,) word scores."""
        before, after = self.explainer.specials
        return sum_into_words(np.asarray(token_scores)[before:len(token_scores) - after], self.explainer.counts(words))

    def token_attribution(self, text: str, label=None):
        """Integrated gradients per token (`explainer.attributions`, `steps` points), once per text and label."""
        if (text, label) not in self._attributions:
            attribution = self.explainer.attributions(text, label, steps=self.steps)
            self._attributions[(text, label)] = self._attributions[(text, attribution.label)] = attribution
        return self._attributions[(text, label)]

    def integrated_gradients(self, text, words, label):
        return self.token_scores_to_words(self.token_attribution(text, label).scores, words)

    def attention(self, text, words, label):
        _, attention = self.explainer.attention(text)  # (L, heads, T, T)
        return self.attended_words(attention[-1].mean(axis=0), words)

    def rollout(self, text, words, label):
        _, attention = self.explainer.attention(text)
        return self.attended_words(rollout(attention), words)

    def attended_words(self, weights, words) -> np.ndarray:
        """(T, T) attention weights -> (W,) word scores: the [CLS] row, or without a [CLS] (the scratch model) the
        attention each token receives on average."""
        scores = weights[0] if self.explainer.specials[0] else weights.mean(axis=0)
        return self.token_scores_to_words(scores, words)

    def random(self, text, words, label):
        return self.rng.random(len(words))

    def shap(self, text, words, label):
        import shap

        # Words, a masked one removed as LIME and ERASER remove it (SHAP's default "..." would be glued to the next
        # word: a token's trailing space is masked with it).
        masker = shap.maskers.Text(r"\s+", mask_token=" ")
        explainer = shap.Explainer(lambda texts: self.probabilities(texts)[:, label], masker)
        values = explainer([text], max_evals=self.shap_evals, silent=True).values[0]  # (W,)
        if len(values) != len(words):
            raise RuntimeError(f"SHAP split {text!r} into {len(values)} words, not {len(words)}")
        return values

    def lime(self, text, words, label):
        from lime.lime_text import LimeTextExplainer

        explainer = LimeTextExplainer(class_names=self.class_names, split_expression=r"\s+", bow=False,
                                      random_state=self.seed)
        explanation = explainer.explain_instance(text, self.probabilities, labels=(label,), num_features=len(words),
                                                 num_samples=self.lime_samples)
        scores = np.zeros(len(words))
        for position, weight in explanation.as_map()[label]:  # bow=False: a feature is a word's position
            scores[position] = weight
        return scores


def remove(words, chosen) -> str:
    return " ".join(word for i, word in enumerate(words) if i not in chosen)


def keep(words, chosen) -> str:
    return " ".join(word for i, word in enumerate(words) if i in chosen)


def top_words(scores, percent) -> set:
    """The indices of the ceil(percent % of W) highest-scoring words (at least one)."""
    count = max(1, math.ceil(len(scores) * percent / 100))
    return set(np.argsort(-np.asarray(scores), kind="stable")[:count].tolist())


def erasure_scores(words_explainer: WordExplainer, attributions: list[WordAttribution], percents=PERCENTS) -> dict:
    """ERASER's comprehensiveness and sufficiency of `attributions` (one per text, the predicted class), per
    percent and their mean, from one batch of perturbed texts."""
    texts, rows = [], []
    for a in attributions:
        texts.append(" ".join(a.words))
        for percent in percents:
            chosen = top_words(a.scores, percent)
            texts += [remove(a.words, chosen), keep(a.words, chosen)]
    probabilities = words_explainer.probabilities(texts)  # (N * (1 + 2 * len(percents)), C)
    per_text = 1 + 2 * len(percents)
    for n, a in enumerate(attributions):
        p = probabilities[n * per_text: (n + 1) * per_text, a.label]
        full, removed, kept = p[0], p[1::2], p[2::2]
        rows.append((full - removed, full - kept))
    comprehensiveness, sufficiency = (np.mean([row[i] for row in rows], axis=0) for i in (0, 1))  # (len(percents),)
    return {"comprehensiveness": dict(zip(percents, comprehensiveness.tolist())),
            "sufficiency": dict(zip(percents, sufficiency.tolist())),
            "comprehensiveness_mean": float(comprehensiveness.mean()), "sufficiency_mean": float(sufficiency.mean())}


def faithfulness(words_explainer: WordExplainer, texts, methods=EXPLAINERS, percents=PERCENTS, report=None) -> dict:
    """{method: erasure scores + seconds per explanation} over `texts`, each explained for its predicted class;
    `report(method, scores)` is called as each method finishes."""
    labels = np.argmax(words_explainer.probabilities(texts), axis=1)
    table = {}
    for method in methods:
        explained = [words_explainer.explain(method, text, int(label)) for text, label in zip(texts, labels)]
        table[method] = {**erasure_scores(words_explainer, explained, percents),
                         "seconds_per_text": float(np.mean([a.seconds for a in explained])), "texts": len(texts)}
        if report:
            report(method, table[method])
    return table

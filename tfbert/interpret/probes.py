"""Layer by layer: what each encoder layer knows about the classes, and which tokens it sees as alike.

    layers = probes.layer_features(explainer, texts)          # (L + 1, N, H): embeddings, then each layer
    accuracy = probes.probe_accuracy(train_layers, train_labels, test_layers, test_labels)   # (L + 1,)
    index = probes.TokenIndex.build(explainer, texts, layer=4)   # exBERT's search: every token's vector
    index.nearest(explainer, "The bank raised rates", word=1, k=10)   # [(cosine, text, tokens, position)]

A linear probe is a logistic regression trained on one layer's mean-pooled features of the training texts and
scored on the test texts: where its accuracy rises is where the class information appears (Alain and Bengio 2016;
for BERT, Tenney et al. 2019). Run on the pretrained encoder and on the fine-tuned one, it shows how fine-tuning
moves that information. The token index is exBERT's search (Hoover et al. 2020): the contextual vectors of every
token of a corpus at one layer, and the tokens nearest (cosine) to a chosen token in its own context.
"""
import dataclasses

import numpy as np

from tfbert.keras import tf


def layer_features(explainer, texts, batch_size=32) -> np.ndarray:
    """(L + 1, N, H) the mean over each text's tokens (padding left out) of the embedding output and of every
    encoder layer's output, for an HF explainer (`interpret.BertExplainer`)."""
    pooled = []
    for start in range(0, len(texts), batch_size):
        ids = explainer.wordpiece.dense(tf.constant(texts[start:start + batch_size]))  # (B, T)
        hidden, mask = hidden_states(explainer, ids)  # (L + 1, B, T, H), (B, T)
        pooled.append((tf.reduce_sum(hidden * mask[None, :, :, None], axis=2)
                       / tf.reduce_sum(mask, axis=1)[None, :, None]).numpy())  # (L + 1, B, H)
    return np.concatenate(pooled, axis=1)


def hidden_states(explainer, ids):
    """(B, T) ids -> ((L + 1, B, T, H) the embedding output and every encoder layer's, (B, T) float mask of the
    tokens that are not padding)."""
    mask = tf.cast(tf.not_equal(ids, explainer.wordpiece.pad_id), tf.float32)
    return explainer.hidden_states(ids, mask), mask


def probe_accuracy(train_layers, train_labels, test_layers, test_labels, seed=0) -> np.ndarray:
    """(L + 1,) test accuracy of a logistic regression per layer, trained on that layer's training features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scores = []
    for train, test in zip(train_layers, test_layers):
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
        scores.append(probe.fit(train, train_labels).score(test, test_labels))
    return np.array(scores)


@dataclasses.dataclass
class Match:
    cosine: float
    text: int  # index of the corpus text
    tokens: list[str]  # that text's tokens
    position: int  # the matching token's position in them

    def context(self, width=6) -> str:
        """The token in its context: `... left [TOKEN] right ...`."""
        shown = lambda tokens: [t for t in tokens if t not in ("[CLS]", "[SEP]")]  # noqa: E731
        left = shown(self.tokens[max(0, self.position - width):self.position])
        right = shown(self.tokens[self.position + 1:self.position + 1 + width])
        return " ".join([*left, f"[{self.tokens[self.position]}]", *right])


@dataclasses.dataclass
class TokenIndex:
    """Unit-length contextual vectors of every token (but [CLS], [SEP] and padding) of a corpus at one layer."""
    layer: int
    vectors: np.ndarray  # (K, H), unit length
    places: np.ndarray  # (K, 2) the corpus text and position of each vector
    tokens: list[list[str]]  # each corpus text's tokens

    @classmethod
    def build(cls, explainer, texts, layer: int, batch_size=32) -> "TokenIndex":
        vectors, places, tokens = [], [], []
        special = {explainer.wordpiece.cls_id, explainer.wordpiece.sep_id, explainer.wordpiece.pad_id}
        for start in range(0, len(texts), batch_size):
            ids = explainer.wordpiece.dense(tf.constant(texts[start:start + batch_size]))  # (B, T)
            hidden = token_vectors(explainer, ids, layer)  # (B, T, H)
            for row, text_ids in enumerate(ids.numpy()):
                keep = [t for t, i in enumerate(text_ids) if i not in special]
                vectors.append(hidden[row, keep])
                places += [(start + row, t) for t in keep]
                tokens.append(explainer.tokens(text_ids[text_ids != explainer.wordpiece.pad_id]))  # padding is last
        vectors = np.concatenate(vectors)
        return cls(layer, vectors / np.linalg.norm(vectors, axis=1, keepdims=True), np.array(places), tokens)

    def save(self, path):
        np.savez(path, layer=self.layer, vectors=self.vectors, places=self.places,
                 tokens=np.array(["\t".join(t) for t in self.tokens]))

    @classmethod
    def load(cls, path) -> "TokenIndex":
        with np.load(path) as saved:
            return cls(int(saved["layer"]), saved["vectors"], saved["places"],
                       [str(t).split("\t") for t in saved["tokens"]])

    def nearest(self, explainer, text: str, word: int, k=10) -> tuple[str, list[Match]]:
        """The `k` corpus tokens nearest to the first token of the text's `word`-th word (0-based, whitespace
        words), in the text's own context: (that token, matches best first)."""
        words = text.split()
        if not 0 <= word < len(words):
            raise ValueError(f"word {word} is not in {text!r} ({len(words)} words)")
        position = 1 + sum(explainer.counts(words[:word]))  # after [CLS]
        ids = explainer.ids(text)  # (1, T)
        if position >= ids.shape[1] - 1:
            raise ValueError(f"word {word} of {text!r} is past the model's {ids.shape[1]} tokens")
        query = token_vectors(explainer, ids, self.layer)[0, position]
        cosines = self.vectors @ (query / np.linalg.norm(query))  # (K,)
        best = np.argsort(-cosines)[:k]
        token = explainer.tokens(ids.numpy()[0])[position]
        return token, [Match(float(cosines[i]), int(self.places[i, 0]), self.tokens[self.places[i, 0]],
                             int(self.places[i, 1])) for i in best]


def token_vectors(explainer, ids, layer: int) -> np.ndarray:
    """(B, T, H) every token's vector after encoder layer `layer` (0: the embeddings)."""
    return hidden_states(explainer, ids)[0][layer].numpy()


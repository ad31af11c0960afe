"""Interpretability on a tiny random BERT and a tiny scratch model: attention maps, integrated gradients,
feature projections, the CLI."""
import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from tfbert import evaluate, interpret, runs, train
from tfbert.interpret import maps
from tfbert.keras import tf
from tfbert.models import scratch

from conftest import ROOT, TEXTS, write_hf_run, write_scratch_run

QUICK = ["--steps", "8", "--shap-evals", "20", "--lime-samples", "20"]


@pytest.fixture(scope="module")
def explainer(hf_run):
    return interpret.BertExplainer.from_run(hf_run[0])


@pytest.mark.parametrize("trainable", [True, False])
def test_from_run_restores_the_weights_the_run_saved(tiny_bert_dir, tmp_path, trainable):
    saved = write_hf_run(tmp_path, tiny_bert_dir, trainable)
    explainer = interpret.BertExplainer.from_run(tmp_path)
    ids = explainer.wordpiece.dense(tf.constant(TEXTS))  # (4, T)
    mask = tf.cast(tf.not_equal(ids, 0), tf.int32)
    restored = explainer.logits(tf.gather(explainer.bert.embeddings.weight, ids), mask)
    np.testing.assert_allclose(restored.numpy(), saved.model(ids).numpy(), atol=1e-5)


def test_a_tf_hub_run_is_refused_with_the_reason(tiny_bert_dir, tmp_path):
    write_hf_run(tmp_path, tiny_bert_dir, trainable=True, family="hub")
    with pytest.raises(ValueError, match="TF-Hub encoders return no attention"):
        interpret.BertExplainer.from_run(tmp_path)


def test_attention_has_a_distribution_per_token_for_every_layer_and_head(explainer):
    tokens, attention = explainer.attention(TEXTS[0])
    assert tokens == ["[CLS]", "the", "coach", "says", "the", "season", "[UNK]", "new", "[SEP]"]
    assert attention.shape == (2, 5, 9, 9)  # (layers, heads, T, T)
    np.testing.assert_allclose(attention.sum(axis=-1), 1.0, atol=1e-5)


def test_integrated_gradients_add_up_to_the_logit_gap_and_leave_cls_and_sep_at_zero(explainer):
    why = explainer.attributions(TEXTS[1], steps=100)
    gap = why.scores.sum() - why.delta  # logit(text) - logit(baseline) of the explained class
    assert abs(gap) > 0.01
    assert abs(why.delta) < 0.02 * abs(gap)
    assert why.tokens[0] == "[CLS]" and why.tokens[-1] == "[SEP]"
    assert why.scores[0] == why.scores[-1] == 0.0  # the baseline keeps them: no path, no attribution
    assert why.label == int(np.argmax(why.probabilities))
    assert explainer.attributions(TEXTS[1], label=(why.label + 1) % 4, steps=10).label == (why.label + 1) % 4


@pytest.fixture(scope="module")
def scratch_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("scratch")
    return run_dir, *write_scratch_run(run_dir)


def test_the_scratch_explainer_runs_the_saved_model_s_own_layers(scratch_run):
    run_dir, model, vectorizer = scratch_run
    explainer = interpret.from_run(run_dir)
    assert isinstance(explainer, interpret.ScratchExplainer)
    ids = scratch.encode(vectorizer, TEXTS, scratch.PRESETS["tiny"])  # (4, None)
    for row in range(len(TEXTS)):  # one text at a time, as the explainer sees it: no padding
        text_ids = ids[row: row + 1].to_tensor()  # (1, T)
        restored = explainer.logits(explainer.embedding.token_embedding(text_ids))
        np.testing.assert_allclose(restored.numpy(), model(text_ids).numpy(), atol=1e-5)
    pooled = explainer.features(TEXTS)  # (4, D), in file order
    keras_pooled = model.get_layer("scratch_transformer")(ids.to_tensor())["pooled_output"]  # padded: masked mean
    np.testing.assert_allclose(pooled, keras_pooled.numpy(), atol=1e-5)


def test_the_scratch_model_has_one_layer_of_attention_over_its_words(scratch_run):
    explainer = interpret.from_run(scratch_run[0])
    tokens, attention = explainer.attention("The coach says: the zebra season!")
    assert tokens == ["the", "coach", "says", "the", "[UNK]", "season"]
    assert attention.shape == (1, 3, 6, 6)  # (layers, heads, T, T): the tiny preset has 3 heads
    np.testing.assert_allclose(attention.sum(axis=-1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="has no words to explain"):
        explainer.attention(" ?! ")


def test_scratch_integrated_gradients_add_up_to_the_logit_gap(scratch_run):
    why = interpret.from_run(scratch_run[0]).attributions(TEXTS[0], steps=100)
    gap = why.scores.sum() - why.delta  # 0.16 for these seeded weights
    assert why.tokens == TEXTS[0].split() and abs(gap) > 0.05
    assert abs(why.delta) < 0.02 * abs(gap)
    assert why.label == int(np.argmax(why.probabilities))


def test_principal_components_find_the_direction_of_the_spread():
    rng = np.random.default_rng(0)
    along = rng.normal(size=(200, 1)) * np.array([[3.0, 4.0, 0.0]])  # spread along (3, 4, 0) / 5
    points, explained = maps.principal_components(along + rng.normal(size=(200, 3)) * 0.01)
    assert points.shape == (200, 2) and explained[0] > 0.99
    np.testing.assert_allclose(np.abs(points[:, 0]), np.abs((along - along.mean(axis=0)) @ [0.6, 0.8, 0.0]), atol=0.05)


@pytest.mark.slow
def test_umap_keeps_clusters_apart_and_declines_too_few_texts():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 10
    features = np.repeat(centres, 20, axis=0) + rng.normal(size=(60, 16))  # 3 clusters of 20
    points = maps.umap_points(features)
    assert points.shape == (60, 2)
    means = points.reshape(3, 20, 2).mean(axis=1)
    spread = max(np.linalg.norm(points.reshape(3, 20, 2) - means[:, None], axis=-1).max(axis=1))
    assert min(np.linalg.norm(means[a] - means[b]) for a in range(3) for b in range(a)) > spread
    assert maps.umap_points(features[:9]) is None


@pytest.mark.slow
def test_the_cli_explains_one_right_and_one_wrong_test_text_and_maps_the_features(hf_run, tmp_path):
    run_dir, _ = hf_run
    out = tmp_path / "pictures"
    result = subprocess.run([sys.executable, "-m", "experiments.interpret", "--run", str(run_dir), "--out", str(out),
                             *QUICK], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"text 1: {TEXTS[0]}" in result.stdout and f"text 2: {TEXTS[1]}" in result.stdout
    for method in ("integrated_gradients", "shap", "lime"):
        assert f"{method} (" in result.stdout
    for name in ("attention_1.png", "attention_1.html", "head_1.png", "attributions_1.png", "words_1.png",
                 "words_1.html", "attention_2.png", "projection.png", "projector/vectors.tsv"):
        assert (out / name).stat().st_size > 0, name
    vectors = np.loadtxt(out / "projector" / "vectors.tsv", delimiter="\t")
    metadata = (out / "projector" / "metadata.tsv").read_text().splitlines()
    assert vectors.shape == (4, 20) and metadata[0] == "class\ttext" and metadata[1] == f"World\t{TEXTS[0]}"


@pytest.mark.slow
def test_the_cli_explains_a_scratch_run_too(scratch_run, tmp_path):
    out = tmp_path / "pictures"
    result = subprocess.run([sys.executable, "-m", "experiments.interpret", "--run", str(scratch_run[0]), "--out",
                             str(out), *QUICK, "goal after goal", b"the coach \xe9"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)  # a Latin-1 byte, as a shell passes it
    assert result.returncode == 0, result.stderr[-2000:]
    assert "text 1: goal after goal" in result.stdout and "text 2: the coach \ufffd" in result.stdout
    assert "warning: text 2: byte 0xe9 at column 11 is not UTF-8; explained with it replaced by \ufffd" in result.stderr
    for name in ("attention_1.png", "attention_1.html", "head_1.png", "attributions_1.png", "words_1.html",
                 "projection.png"):
        assert (out / name).stat().st_size > 0, name
    assert np.loadtxt(out / "projector" / "vectors.tsv", delimiter="\t").shape == (4, 12)  # 4 test texts x embed_dim


def write_kantaibert_run(run_dir):
    """A finished KantaiBERT run directory as far as `interpret` reads it: config.json, model/ (save_pretrained, with
    its tokenizer), from a tiny random model and a tokenizer trained on a few lines."""
    from tfbert.data import bpe
    from tfbert.models import kantaibert

    config = kantaibert.PRESETS["tiny"]
    lines = ["Human reason is the faculty of principles.", "The categories are the conditions of experience."] * 20
    tokenizer = bpe.save_as_roberta(bpe.train_tokenizer(lines, vocab_size=config.vocab_size), run_dir / "tokenizer")
    train.set_seed(0)
    model = kantaibert.build_model(config)
    model.save_pretrained(str(run_dir / "model"))
    tokenizer.save_pretrained(str(run_dir / "model"))
    runs.write_config(run_dir, runs.RunConfig("kantaibert", "tiny", model=dataclasses.asdict(config)))


@pytest.mark.slow
def test_the_cli_shows_a_kantaibert_runs_attention(tmp_path):
    write_kantaibert_run(tmp_path)
    explainer = interpret.from_run(tmp_path)
    text = "Human reason is the faculty of principles."
    tokens, attention = explainer.attention(text)
    assert tokens[0] == "<s>" and tokens[-1] == "</s>" and "".join(tokens[1:-1]).replace("Ġ", " ") == text
    assert attention.shape == (2, 3, len(tokens), len(tokens))  # the tiny preset: 2 layers, 3 heads
    out = tmp_path / "pictures"
    result = subprocess.run([sys.executable, "-m", "experiments.interpret", "--run", str(tmp_path), "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(path.name for path in out.iterdir()) == ["attention_1.html", "attention_1.png", "attention_2.html",
                                                            "attention_2.png"]


def test_a_bad_prediction_row_is_named_by_file_and_line(tmp_path):
    path = tmp_path / runs.PREDICTIONS
    path.write_text("index,label,prediction,text\n0,1,1,fine\n1,World,1,label is a name\n")
    with pytest.raises(ValueError, match=f"{path}:3: expected text, label and prediction"):
        evaluate.read_predictions(path)

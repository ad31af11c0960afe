"""Layer by layer on a tiny random BERT: mean-pooled layer features, linear probes, exBERT's token search, and the
TensorBoard projector in a run's log directory."""
import json
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from tfbert import interpret
from tfbert.interpret import maps, probes

from conftest import ROOT
from conftest import TEXTS


@pytest.fixture(scope="module")
def explainer(hf_run):  # noqa: F811
    return interpret.BertExplainer.from_run(hf_run[0])


def test_layer_features_are_each_layers_mean_over_the_texts_tokens_whatever_the_batch(explainer):
    layers = probes.layer_features(explainer, TEXTS)  # (L + 1, N, H)
    assert layers.shape == (3, 4, 20)  # embeddings + 2 layers, 4 texts, hidden 20
    alone = probes.layer_features(explainer, TEXTS[2:3])  # "goal": no padding beside a longer text
    np.testing.assert_allclose(alone[:, 0], layers[:, 2], atol=1e-5)
    hidden = probes.token_vectors(explainer, explainer.ids(TEXTS[0]), layer=2)  # (1, T, H)
    np.testing.assert_allclose(layers[2, 0], hidden[0].mean(axis=0), atol=1e-5)


def test_a_probe_finds_the_layer_that_holds_the_classes():
    rng = np.random.default_rng(0)
    labels = np.arange(200) % 4
    noise = rng.normal(size=(200, 8))
    separable = noise * 0.1 + np.eye(4)[labels] @ rng.normal(size=(4, 8))  # one direction per class
    layers = np.stack([noise, separable])  # (2, 200, 8)
    accuracy = probes.probe_accuracy(layers[:, :100], labels[:100], layers[:, 100:], labels[100:])
    assert accuracy[0] < 0.5 and accuracy[1] == 1.0


def test_the_token_search_finds_a_token_itself_first_in_the_same_context_and_survives_a_reload(explainer, tmp_path):
    index = probes.TokenIndex.build(explainer, TEXTS, layer=2)
    assert len(index.vectors) == sum(len(explainer.tokens(explainer.ids(t)[0])) - 2 for t in TEXTS)  # no [CLS]/[SEP]
    token, matches = index.nearest(explainer, TEXTS[1], word=2, k=3)  # "chip" in "shares in chip market ..."
    assert token == "chip" and matches[0].text == 1 and matches[0].cosine == pytest.approx(1.0, abs=1e-5)
    assert matches[0].context().startswith("shares in [chip] market")
    index.save(tmp_path / "index.npz")
    reloaded = probes.TokenIndex.load(tmp_path / "index.npz")
    assert reloaded.layer == 2 and reloaded.tokens == index.tokens
    np.testing.assert_array_equal(reloaded.vectors, index.vectors)
    with pytest.raises(ValueError, match="word 9 is not in"):
        index.nearest(explainer, "goal", word=9)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_tensorboard_shows_the_features_in_its_projector(tmp_path):
    features = np.random.default_rng(0).normal(size=(4, 20))
    maps.write_tensorboard_projector(tmp_path / "hf_finetune", features, TEXTS, [0, 1, 2, 3],
                                     ["World", "Sports", "Business", "Sci/Tech"])
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(tmp_path), "--port",
                               str(port), "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline, runs_listed = time.time() + 90, []
        while time.time() < deadline and not runs_listed:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/projector/runs", timeout=5) as r:
                    runs_listed = json.load(r)
            except OSError:
                time.sleep(1)
        assert runs_listed == ["hf_finetune/logs/projector"], server.stderr
        url = f"http://127.0.0.1:{port}/data/plugin/projector/info?run=hf_finetune/logs/projector"
        with urllib.request.urlopen(url, timeout=10) as r:
            embedding = json.load(r)["embeddings"][0]
        assert embedding["tensorName"] == "features" and embedding["tensorShape"] == [4, 20]
        assert embedding["metadataPath"].endswith("metadata.tsv")
    finally:
        server.kill()
        server.wait()


@pytest.mark.slow
def test_the_cli_probes_every_layer_and_searches_the_training_texts(hf_run, ag_news_dir, tmp_path):  # noqa: F811
    out = tmp_path / "pictures"
    result = subprocess.run([sys.executable, "-m", "experiments.interpret", "--run", str(hf_run[0]), "--out", str(out),
                             "--steps", "4", "--shap-evals", "10", "--lime-samples", "10", "--data-dir",
                             str(ag_news_dir), "--probes", "--probe-texts", "60", "--search", "coach",
                             "--corpus-texts", "30", "the coach says the season is new"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "linear probe by layer, pretrained:" in result.stdout and f"linear probe by layer, {hf_run[0].name}:" \
        in result.stdout
    for name in ("probes.png", "layers_pretrained.png", f"layers_{hf_run[0].name}.png", "index_layer2_30texts.npz",
                 "search_coach_layer2.txt"):
        assert (out / name).stat().st_size > 0, name
    found = (out / "search_coach_layer2.txt").read_text().splitlines()
    assert found[0].startswith("layer 2: the 10 tokens of 30 training texts nearest to 'coach'")
    assert len(found) == 11 and all("[" in line for line in found[1:])
    assert (out / "logs" / "projector" / "projector_config.pbtxt").is_file()  # under --out, not in the run

"""The kerashub family: KerasHub's BertBackbone under Keras 3, on the TensorFlow and the JAX backend.

Keras 3 code runs in processes of its own (as the family runs it), on a tiny random HF BERT checkpoint.
"""
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

from tfbert import classify, files, runs, train
from tfbert.data import ag_news
from tfbert.models import kerashub

from conftest import ROOT, csv_probabilities, serve_with_plain_tensorflow

TEXTS = ["The coach says the season is new!", "Shares in chip market, after report today.", "Café goal",
         "internet  CHIP", "", "unknownword parliament"]


def keras3(code: str, backend: str, *args, block_tensorflow=False, stdin=None) -> dict:
    """Runs `code` in a Python process with Keras 3 on `backend` (TensorFlow unimportable with `block_tensorflow`);
    the JSON it prints last."""
    prelude = BLOCK_TENSORFLOW if block_tensorflow else ""
    done = subprocess.run([sys.executable, "-c", prelude + code, *map(str, args)], cwd=ROOT,
                          env=kerashub.environment(backend), input=stdin,
                          capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


# A runtime without TensorFlow (Colab's TPU runtimes), as far as one process can show it: no TensorFlow, tf_keras,
# TensorFlow Text or TF-Hub can be imported.
BLOCK_TENSORFLOW = """
import sys
for name in ("tensorflow", "tensorflow_text", "tf_keras", "tensorflow_hub"):
    sys.modules[name] = None  # `import` fails and `importlib.util.find_spec` answers None, as where it is not installed
"""

BACKBONE = """
import json, sys, tempfile
import keras, numpy as np
from tfbert.keras3 import bert
folder, texts = sys.argv[1], json.loads(sys.argv[2])
tokenizer = bert.Tokenizer(folder + "/vocab.txt", lower_case=True, max_length=8)
ids = tokenizer(texts)
backbone = bert.load_backbone(folder)
padded = bert.pad(ids)
sequence = np.asarray(backbone(bert.backbone_inputs(padded))["sequence_output"])
model, _, _ = bert.classifier(backbone, 4, pooling="mean")
path = tempfile.mkdtemp() + "/model.keras"
model.save(path)
reloaded = keras.saving.load_model(path)
print(json.dumps({"ids": ids, "sequence": sequence.tolist(),
                  "reload": float(np.abs(np.asarray(reloaded(padded)) - np.asarray(model(padded))).max()),
                  "gelu": [layer._feedforward_intermediate_dense.activation.__name__
                           for layer in reloaded.get_layer("bert_backbone").transformer_layers],
                  "modules": sorted(name for name, module in sys.modules.items() if module is not None)}))
"""


@pytest.fixture(scope="module")
def backbones(tiny_bert_dir):
    """What the tiny checkpoint gives on each backend (the JAX one without TensorFlow)."""
    return {backend: keras3(BACKBONE, backend, tiny_bert_dir, json.dumps(TEXTS), block_tensorflow=backend == "jax")
            for backend in ("tensorflow", "jax")}


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_the_tokenizer_gives_the_hf_tokenizer_s_ids_with_and_without_tensorflow(backend, backbones, tiny_bert_dir):
    from transformers import BertTokenizerFast

    hf = BertTokenizerFast.from_pretrained(str(tiny_bert_dir))
    assert backbones[backend]["ids"] == [hf(text, truncation=True, max_length=8)["input_ids"] for text in TEXTS]


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_the_backbone_computes_what_hf_bert_computes_exact_gelu_included_and_keeps_it_after_a_reload(
        backend, backbones, tiny_bert_dir):
    from transformers import TFBertModel

    ids = np.array([row + [0] * (8 - len(row)) for row in backbones[backend]["ids"]])  # (B, T), as bert.pad pads
    hf = TFBertModel.from_pretrained(str(tiny_bert_dir)).bert(input_ids=ids, attention_mask=(ids != 0).astype(int))
    real = (ids != 0)[..., None]
    difference = np.abs(np.where(real, np.array(backbones[backend]["sequence"]) - hf.last_hidden_state.numpy(), 0))
    assert difference.max() < 1e-5
    assert backbones[backend]["gelu"] == ["gelu", "gelu"] and backbones[backend]["reload"] < 1e-6


def test_the_jax_backend_needs_no_tensorflow(backbones):
    loaded = {name.split(".")[0] for name in backbones["jax"]["modules"]}
    assert not loaded & {"tensorflow", "tf_keras", "tensorflow_text"}
    assert "jax" in backbones["jax"]["modules"]


RESUME = """
import json, sys
from pathlib import Path
import keras, numpy as np
from tfbert.keras3 import bert, fit
folder, out = sys.argv[1], Path(sys.argv[2])
rng = np.random.default_rng(0)
words = [line.strip() for line in open(folder + "/vocab.txt")][5:30]
texts = [" ".join(rng.choice(words, size=rng.integers(2, 12))) for _ in range(44)]
labels = rng.integers(0, 4, size=44)
tokenizer = bert.Tokenizer(folder + "/vocab.txt", max_length=32)
ids = tokenizer(texts)
lengths = np.array([len(row) for row in ids])
static = keras.backend.backend() == "jax"
pad_to = fit.pad_lengths(32, 16) if static else None

def train(run_dir, epochs):
    keras.utils.set_random_seed(0)
    model, _, _ = bert.classifier(bert.load_backbone(folder), 4)
    model.compile(fit.adamw(1e-3, 2 * (36 // 8 if static else 5), 1), keras.losses.SparseCategoricalCrossentropy(
        from_logits=True), weighted_metrics=["accuracy"])
    batches = fit.Batches(ids[:36], labels[:36], 8, seed=3, lengths=lengths[:36], full=static, pad_to=pad_to)
    validation = fit.Batches(ids[36:], labels[36:], 8, full=True, pad_to=pad_to)
    history = fit.fit(model, batches, validation, run_dir, epochs, verbose=0)
    return history, model.get_weights()

straight, weights = train(out / "straight", 2)
train(out / "stopped", 1)  # killed after epoch 1's backup ...
resumed, resumed_weights = train(out / "stopped", 2)  # ... and the same command again
print(json.dumps({"straight": straight, "resumed": resumed,
                  "weights": max(float(np.abs(a - b).max()) for a, b in zip(weights, resumed_weights))}))
"""


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_two_epochs_and_a_resume_after_the_first_end_as_an_uninterrupted_run(backend, tiny_bert_dir, tmp_path):
    result = keras3(RESUME, backend, tiny_bert_dir, tmp_path)
    for straight, resumed in zip(result["straight"], result["resumed"], strict=True):
        assert {key: straight[key] for key in ("loss", "val_loss", "val_accuracy")} == \
            {key: resumed[key] for key in ("loss", "val_loss", "val_accuracy")}
    assert result["weights"] == 0.0
    assert result["straight"][1]["loss"] < result["straight"][0]["loss"]  # it learns


def test_batches_are_a_function_of_seed_and_epoch_in_length_buckets_padded_to_their_longest():
    code = """
import json
import numpy as np
from tfbert.keras3 import fit
lengths = np.random.default_rng(1).integers(3, 60, size=205)
ids = [[1] * n for n in lengths]
batches = fit.Batches(ids, np.zeros(205), 10, seed=0, lengths=lengths)
epochs = []
for epoch in (0, 1, 0):
    batches.set_epoch(epoch)
    epochs.append([batches.index[k].tolist() for k in range(len(batches))])
static = fit.Batches(ids, np.zeros(205), 10, seed=0, full=True, pad_to=fit.pad_lengths(64, 16))
print(json.dumps({"epochs": epochs, "static": [list(static[k][0].shape) for k in range(len(static))],
                  "widths": [[batches[k][0].shape[1], int(lengths[batches.index[k]].max())] for k in range(len(batches))],
                  "spread": float(np.mean([np.ptp(lengths[index]) for index in batches.index]))}))
"""
    result = keras3(code, "jax", block_tensorflow=True)
    first, second, again = result["epochs"]
    assert first == again and first != second
    assert sorted(sum(first, [])) == list(range(205))  # every text once
    assert all(width == longest for width, longest in result["widths"])  # each batch padded to its longest text
    assert result["spread"] < 10  # texts of similar lengths (lengths 3..59 at random)
    assert len(result["static"]) == 20 and {rows for rows, _ in result["static"]} == {10}  # full: 5 texts sit out
    assert {width for _, width in result["static"]} <= {16, 32, 48, 64}


def test_the_keras_3_mcc_metric_is_scikit_learn_s_and_honours_weights():
    from sklearn.metrics import matthews_corrcoef

    rng = np.random.default_rng(0)
    labels, predicted = rng.integers(0, 2, 50), rng.integers(0, 2, 50)
    code = f"""
import json, numpy as np
from tfbert.keras3.worker import MatthewsCorrelation
labels, predicted = np.array({labels.tolist()}), np.array({predicted.tolist()})
metric = MatthewsCorrelation()
metric.update_state(labels, np.eye(2)[predicted])
weighted = MatthewsCorrelation()
weighted.update_state(np.r_[labels, 1 - labels], np.eye(2)[np.r_[predicted, predicted]], np.r_[np.ones(50), np.zeros(50)])
print(json.dumps([float(metric.result()), float(weighted.result())]))
"""
    plain, weighted = keras3(code, "jax", block_tensorflow=True)
    assert plain == pytest.approx(matthews_corrcoef(labels, predicted), abs=1e-6) and weighted == pytest.approx(plain)


@pytest.fixture(scope="module")
def kh_runs(ag_news_dir, tiny_bert_dir, tmp_path_factory):
    """The kerashub family on the synthetic AG News, 2 epochs: fine-tuned by `classify.run` on TensorFlow; and on
    JAX frozen (`kh_frozen`'s mean pooling), by the worker the family starts, in a process where TensorFlow cannot
    be imported."""
    from tfbert import distribute

    data = ag_news.load(ag_news_dir, offline=True)
    recipe = classify.Recipe("kerashub", encoder=str(tiny_bert_dir), epochs=2, lr=1e-3, batch_size=16,
                             max_length=32, train_examples=96, backend="tensorflow", experiment="agnews")
    out = tmp_path_factory.mktemp("kh_runs")
    tensorflow = classify.run(recipe, data, distribute.get_strategy("cpu"), out / "tensorflow", verbose=0)
    recipe = classify.Recipe(**{**recipe.fields(), "backend": "jax", "trainable": False, "pooling": "mean",
                                "lr": 1e-2})
    data = recipe.data(data)
    job = kerashub.job(recipe, data, out / "jax", train.Compute(), verbose=0, monitor="val_accuracy",
                       config=recipe.config(data))
    run = "import runpy; runpy.run_module('tfbert.keras3.worker', run_name='__main__'); print('{}')"
    keras3(run, "jax", block_tensorflow=True, stdin=pickle.dumps(job))
    return data, out, {"tensorflow": tensorflow, "jax": files.read_json(out / "jax" / runs.METRICS)}


@pytest.mark.slow  # an end-to-end run on each backend (the shared kh_runs)
def test_a_run_on_either_backend_writes_the_run_directory_the_other_families_write(kh_runs):
    data, out, metrics = kh_runs
    for backend in ("tensorflow", "jax"):
        run_dir = out / backend
        assert metrics[backend]["backend"] == backend and metrics[backend]["epochs_trained"] == 2
        assert metrics[backend]["test_examples"] == len(data.test)
        history = files.read_json(run_dir / runs.HISTORY)
        assert [row["epoch"] for row in history] == [0, 1] and history[1]["loss"] < history[0]["loss"]
        assert (run_dir / "model.keras").is_file() and (run_dir / "best" / "weights.npz").is_file()
        assert runs.read_config(run_dir).compute["backend"] == backend
    assert runs.read_config(out / "jax").compute["static_shapes"]  # JAX compiles every step: fixed shapes
    assert (out / "jax" / "features.npz").is_file()  # frozen: the backbone's features computed once, kept
    assert metrics["jax"]["trainable_params"] == 20 * 4 + 4 < metrics["jax"]["total_params"]  # the head only


@pytest.mark.slow  # an end-to-end run on each backend (the shared kh_runs)
def test_the_raw_string_savedmodel_answers_as_the_model_did(kh_runs, tmp_path):
    data, out, metrics = kh_runs
    assert metrics["tensorflow"]["saved_model_max_abs_diff"] < 1e-5
    texts, expected = csv_probabilities(out / "tensorflow" / runs.PREDICTIONS, 16)
    served, modules = serve_with_plain_tensorflow([out / "tensorflow" / "saved_model"], texts, tmp_path)
    assert np.abs(np.array(served[0]) - np.array(expected)).max() < 2e-6  # predictions.csv has 6 decimals
    assert "keras_hub" not in modules


@pytest.mark.slow  # an end-to-end run on each backend (the shared kh_runs)
def test_without_tensorflow_a_jax_run_exports_model_keras_which_tensorflow_makes_a_savedmodel_of(kh_runs,
                                                                                                 tiny_bert_dir):
    data, out, metrics = kh_runs
    run_dir = out / "jax"
    assert metrics["jax"]["saved_model_max_abs_diff"] is None and not (run_dir / "saved_model").exists()
    texts, expected = csv_probabilities(run_dir / runs.PREDICTIONS, 16)
    job = {"export": True, "run_dir": run_dir, "class_names": list(data.class_names), "texts": texts,
           "probabilities": np.array(expected), "tokenizer": [str(tiny_bert_dir / "vocab.txt"), True, 32]}
    run = "import runpy; runpy.run_module('tfbert.keras3.worker', run_name='__main__')"
    assert keras3(run, "tensorflow", stdin=pickle.dumps(job))["max_abs_diff"] < 2e-6
    assert (run_dir / "saved_model" / "saved_model.pb").is_file()


@pytest.mark.slow  # an end-to-end run on each backend (the shared kh_runs)
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_interpret_reads_a_run_through_hf_s_bert_with_the_trained_weights(kh_runs, backend):
    from tfbert import interpret

    data, out, metrics = kh_runs
    explainer = interpret.from_run(out / backend)
    texts, expected = csv_probabilities(out / backend / runs.PREDICTIONS, 8)
    assert np.abs(explainer.probabilities(texts) - np.array(expected)).max() < 2e-5  # the run's own answers
    tokens, attention = explainer.attention(texts[0])
    assert attention.shape == (2, 5, len(tokens), len(tokens))  # the tiny BERT's layers and heads

"""Shared fixtures. Two logical CPU devices are configured before TensorFlow starts, for MirroredStrategy."""
import csv
import dataclasses
import hashlib
import http.server
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from tfbert.data import online
from tfbert.keras import tf

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
)

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
# Asked once per test process: the tests that install from the package registry run only when it answers.
REGISTRY = online.is_reachable("pypi.org")

# Each class has its own words, so a tiny model learns the synthetic task in a few steps.
TOPIC_WORDS = (
    ("election", "minister", "treaty", "embassy", "parliament"),
    ("match", "coach", "season", "goal", "tournament"),
    ("shares", "profit", "market", "merger", "investor"),
    ("software", "chip", "internet", "research", "space"),
)
FILLER = ("the", "a", "on", "after", "new", "report", "says", "today", "in", "with")


def write_ag_news_csv(path, rows: int, seed: int):
    """An `ag_news_csv`-format file (every field quoted) whose text reveals the class."""
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_ALL)
        for i in range(rows):
            label = i % 4
            words = lambda n: " ".join(rng.choice(TOPIC_WORDS[label] + FILLER) for _ in range(n))  # noqa: E731
            writer.writerow([label + 1, words(rng.randint(2, 6)).title(), words(rng.randint(3, 20))])


@pytest.fixture(scope="session")
def ag_news_dir(tmp_path_factory):
    """A synthetic AG News folder: offline_train.csv (400 rows) and offline_test.csv (80 rows)."""
    folder = tmp_path_factory.mktemp("ag_news")
    write_ag_news_csv(folder / "offline_train.csv", 400, seed=1)
    write_ag_news_csv(folder / "offline_test.csv", 80, seed=2)
    return folder


@pytest.fixture
def http_server():
    """serve({path: bytes}) -> the base URL of a new HTTP server on 127.0.0.1 answering GET /path with those bytes."""
    servers = []

    def serve(files: dict) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def start_cli(*args, env=None):
    """Starts `python -m experiments.agnews ARGS` from the repository root, as from a terminal (Ctrl-C not ignored,
    even where the test run itself was started in the background); returns the Popen."""
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.agnews", *map(str, args)],
        cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def run_cli(*args, env=None, timeout=600):
    """Runs `python -m experiments.agnews ARGS` to the end; returns (returncode, stdout, stderr)."""
    process = start_cli(*args, env=env)
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def run_main(main, *args, capsys):
    """Runs a command's `main(ARGS)` in this process (no TensorFlow import to wait for), as `run_cli` runs it in
    another: returns (status, stdout, stderr), where a one-line failure's message ends stderr."""
    try:
        main(list(map(str, args)))
        code = 0
    except SystemExit as stopped:
        code = stopped.code or 0
    stdout, stderr = capsys.readouterr()
    return (1, stdout, stderr + code + "\n") if isinstance(code, str) else (code, stdout, stderr)


# One small scratch run of the command line (2 epochs of the tiny preset): `scratch_cli_run` trains it once.
SCRATCH_CLI = ["--variants", "scratch", "--preset", "tiny", "--epochs", "2", "--verbose", "0", "--batch-size", "8",
               "--lr", "5e-3"]


@pytest.fixture(scope="session")
def scratch_cli_run(ag_news_dir, tmp_path_factory):
    """`SCRATCH_CLI` on the synthetic AG News, trained once per test worker: (its --out folder, its stdout).
    Tests that change the folder work on a copy."""
    out = tmp_path_factory.mktemp("scratch_cli_run")
    code, stdout, stderr = run_cli("--data-dir", ag_news_dir, *SCRATCH_CLI, "--out", out)
    assert code == 0, stderr[-3000:]
    return out, stdout


TINY_BERT = dict(hidden_size=20, num_attention_heads=5, num_hidden_layers=2, intermediate_size=36,
                 max_position_embeddings=64, type_vocab_size=2)  # odd sizes: a transposed axis fails loudly


def write_tiny_bert(folder, seed=0, cased=False):
    """A random HF BERT checkpoint as a PyTorch-named model.safetensors, config.json and vocab.txt.

    `cased`: its vocabulary also has capitalised words, and its tokenizer_config.json says do_lower_case false.
    """
    import json
    import numpy as np
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    words = sorted({w for topic in TOPIC_WORDS for w in topic} | set(FILLER))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, "##s", ".", ",", "!"]
    vocab += [word.title() for word in words] if cased else []
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (folder / "config.json").write_text(json.dumps({
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": len(vocab), "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "layer_norm_eps": 1e-12,
        "initializer_range": 0.02, "pad_token_id": 0, **TINY_BERT}))
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": not cased}))
    rng = np.random.default_rng(seed)
    h, inner = TINY_BERT["hidden_size"], TINY_BERT["intermediate_size"]
    shapes = {"embeddings.word_embeddings.weight": (len(vocab), h),
              "embeddings.position_embeddings.weight": (TINY_BERT["max_position_embeddings"], h),
              "embeddings.token_type_embeddings.weight": (2, h),
              "embeddings.LayerNorm.weight": (h,), "embeddings.LayerNorm.bias": (h,),
              "pooler.dense.weight": (h, h), "pooler.dense.bias": (h,)}
    for i in range(TINY_BERT["num_hidden_layers"]):
        layer = f"encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes |= {f"{layer}{name}.weight": (h, h), f"{layer}{name}.bias": (h,)}
        shapes |= {f"{layer}intermediate.dense.weight": (inner, h), f"{layer}intermediate.dense.bias": (inner,),
                   f"{layer}output.dense.weight": (h, inner), f"{layer}output.dense.bias": (h,)}
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes |= {f"{layer}{norm}.weight": (h,), f"{layer}{norm}.bias": (h,)}
    tensors = {name: (rng.normal(size=shape) * (0.1 if len(shape) == 1 else 0.3)).astype(np.float32)
               for name, shape in shapes.items()}
    for name in tensors:
        if name.endswith("LayerNorm.weight"):
            tensors[name] += 1.0
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    return write_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="session")
def tiny_encoder(tiny_bert_dir):
    from tfbert import encoders
    return encoders.resolve(str(tiny_bert_dir))


@pytest.fixture(scope="session")
def hub_cache(tmp_path_factory):
    """One TF-Hub export cache for the whole run, shared by the pytest-xdist workers (an entry is keyed by the
    checkpoint's hashes and locked while it is exported): the tiny BERT is exported once, not once per test file."""
    root = tmp_path_factory.getbasetemp()
    return (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "hub_cache"


@pytest.fixture(scope="session")
def tiny_hub_pair(tiny_bert_dir, hub_cache):
    """The tiny BERT exported as a TF-Hub pair (about ten seconds, once)."""
    from tfbert import hub_export
    return hub_export.cached_pair(tiny_bert_dir, seq_length=32, cache=hub_cache)


PLAIN_CLIENT = """
import json, sys
import tensorflow as tf
import tensorflow_text  # registers the tokenizer ops the SavedModels use
paths, texts = json.load(sys.stdin)
probabilities = [tf.saved_model.load(path).signatures["serving_default"](text=tf.constant(texts))["probabilities"]
                 .numpy().tolist() for path in paths]
print(json.dumps({"probabilities": probabilities, "modules": sorted(sys.modules)}))
"""


def serve_with_plain_tensorflow(saved_models, texts, cwd):
    """(models, B, C) probabilities from raw-string SavedModels, computed by a fresh Python process that imports only
    tensorflow and tensorflow_text (not tfbert, transformers or TF-Hub), as a server would; and the modules it ended up with."""
    import json
    env = {name: value for name, value in os.environ.items() if not name.startswith(("TF_", "TFBERT_"))}
    done = subprocess.run([sys.executable, "-c", PLAIN_CLIENT], input=json.dumps([list(map(str, saved_models)), texts]),
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["probabilities"], result["modules"]


def csv_probabilities(path, count):
    """The first `count` rows of a predictions.csv: (texts, (count, C) probabilities)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:count]
    columns = [name for name in rows[0] if name.startswith("p_")]
    return [row["text"] for row in rows], [[float(row[name]) for name in columns] for row in rows]


# --- run directories as the experiments leave them, with tiny random models ----------------------------------

CLASSES = ["World", "Sports", "Business", "Sci/Tech"]
TEXTS = ["the coach says the season is new", "shares in chip market after report today", "goal", "internet chip"]


def write_hf_run(run_dir, tiny_bert_dir, trainable: bool, family="hf"):
    """A run directory as `classify.run` leaves it (config.json, best/, predictions.csv), with a random head.

    Returns the classifier whose weights were saved.
    """
    from tfbert import classify, encoders, runs

    recipe = classify.Recipe(family, trainable, encoder=str(tiny_bert_dir), max_length=32)
    classifier = classify.build(dataclasses.replace(recipe, family="hf"), encoders.resolve(str(tiny_bert_dir)),
                                len(CLASSES))
    rng = np.random.default_rng(1)
    classifier.head.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in classifier.head.get_weights()])
    (classifier.model if trainable else classifier.head).save_weights(str(run_dir / runs.BEST_WEIGHTS))
    runs.write_config(run_dir, runs.RunConfig("agnews", recipe.variant, class_names=CLASSES,
                                              recipe=dataclasses.asdict(recipe)))
    write_test_predictions(run_dir)
    return classifier


def write_scratch_run(run_dir):
    """A run directory as `experiments.agnews` leaves a scratch run (config.json, model.keras, vocab.txt,
    predictions.csv), with random weights. Returns the model and its vectorizer."""
    from tfbert import runs, train
    from tfbert.models import scratch

    config = scratch.PRESETS["tiny"]
    vectorizer = scratch.build_vectorizer(config, TEXTS)
    train.set_seed(0)  # the same random weights whichever tests ran before
    model = scratch.build(config).model
    model.save(run_dir / "model.keras")
    (run_dir / "vocab.txt").write_text("\n".join(vectorizer.get_vocabulary()) + "\n", encoding="utf-8")
    runs.write_config(run_dir, runs.RunConfig("agnews", "scratch", class_names=CLASSES, model=dataclasses.asdict(config)))
    write_test_predictions(run_dir)
    return model, vectorizer


def write_test_predictions(run_dir):
    from tfbert import evaluate, runs

    labels = np.arange(len(TEXTS)) % 4
    predicted = np.eye(4)[(labels * 3) % 4]  # (4, 4) probabilities: right on texts 0 and 2, wrong on 1 and 3
    evaluate.write_predictions(run_dir / runs.PREDICTIONS, TEXTS, labels, predicted, CLASSES)


@pytest.fixture(scope="module")
def hf_run(tiny_bert_dir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("hf_finetune")
    return run_dir, write_hf_run(run_dir, tiny_bert_dir, trainable=True)


def snapshot(folder) -> dict:
    """{relative path: sha256} of every file under `folder`."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- the notebooks, run top to bottom in their smoke setting --------------------------------------------------

# What each notebook's smoke run prints, and how many pictures it shows.
NOTEBOOK_CHECKS = {
    "agnews": (["659,592", "input_word_ids: (1, 32)", "sequence_output -> (1, 32, 20)", "| hub_frozen |",
                "| hf_finetune |", "Trainable params:", "| kh_finetune |"], 4),
    "cola": (["MCC 0.000 (scikit-learn 0.000)", "| always 'acceptable' |", "| tuned |", "(p = ", "| kh_tuned |"], 2),
    "kantaibert": (["parameters: 83,504,416", "held-out MLM loss", "pipeline"], 0),
    "interpret": (["2 layers x 5 heads", "delta", "shap (", "lime (", "tfbert-attention", "tfbert-words",
                   "fine-tuned: ", "' at layer 2:"], 7),
}


def run_notebook(name, out, parameters, kernel="python3"):
    """Runs notebooks/NAME.ipynb top to bottom with papermill in the Jupyter kernel `kernel`, with its `SMOKE`,
    `OUT` and these `parameters`; checks it printed NOTEBOOK_CHECKS[name]'s snippets and showed its pictures."""
    import papermill

    out.mkdir(parents=True, exist_ok=True)
    executed = papermill.execute_notebook(
        str(ROOT / "notebooks" / f"{name}.ipynb"), str(out / "executed.ipynb"), kernel_name=kernel,
        parameters={"SMOKE": True, "OUT": str(out / "runs"), **parameters}, cwd=str(ROOT / "notebooks"),
        progress_bar=False)
    outputs = [output for cell in executed.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    text = "\n".join(output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
                     + str(output.get("data", {}).get("text/html", "")) for output in outputs)
    expected, pictures = NOTEBOOK_CHECKS[name]
    for snippet in expected:
        assert snippet in text, snippet
    assert sum("image/png" in output.get("data", {}) for output in outputs) == pictures

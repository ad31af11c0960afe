"""CoLA: the raw TSVs and their quirks, the experiment end to end, and the verdict interface."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tfbert import files, runs, train
from tfbert.data import BadRowError, cola

from conftest import REGISTRY, ROOT, SHARED_DATA, TOPIC_WORDS

GOOD = [" ".join(TOPIC_WORDS[0][:3]), "the coach says the season", "a new report on the market", "goal after goal"]
BAD = ["season the the coach", "on on a", "report report report", "with in after"]


def write_cola(folder, rows=120, final_newline=True):
    """A raw CoLA folder: 'acceptable' sentences use words in order, 'unacceptable' ones scramble them."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("in_domain_train.tsv", rows), ("in_domain_dev.tsv", 40), ("out_of_domain_dev.tsv", 40)):
        lines = [f"src{i % 3}\t{1 - i % 2}\t{' ' if i == 5 else ('*' if i % 2 else '')}\t"
                 f"{(GOOD if i % 2 == 0 else BAD)[i % 4]}." for i in range(n)]
        (folder / name).write_text("\n".join(lines) + ("\n" if final_newline else ""), encoding="utf-8")
    return folder


def run_cola(*args, stdin=None, timeout=900):
    """`python -m experiments.cola ARGS` with `stdin` (str, or bytes as a pipe may carry them): (code, out, err)."""
    if isinstance(stdin, str):
        stdin = stdin.encode()
    process = subprocess.run([sys.executable, "-m", "experiments.cola", *map(str, args)], cwd=ROOT, input=stdin,
                             capture_output=True, timeout=timeout)
    return process.returncode, process.stdout.decode(), process.stderr.decode()


def test_the_raw_files_load_with_their_quirks(tmp_path):
    data = cola.load(write_cola(tmp_path / "cola", final_newline=False))  # no final newline, a ' ' annotation
    assert data.sizes() == {"train": 108, "validation": 12, "in_domain_dev": 40, "out_of_domain_dev": 40}
    assert data.class_names == ("unacceptable", "acceptable") and set(data.test.labels) == {0, 1}


def test_a_bad_row_names_the_file_and_line(tmp_path):
    folder = write_cola(tmp_path / "cola")
    lines = (folder / "in_domain_dev.tsv").read_text().splitlines()
    lines[6] = "src\t2\t\tA sentence."
    (folder / "in_domain_dev.tsv").write_text("\n".join(lines) + "\n")
    with pytest.raises(BadRowError, match=r"in_domain_dev.tsv:7: label '2' is not 0 or 1"):
        cola.load(folder)
    lines[6] = "src\t1\tA sentence without an annotation column."
    (folder / "in_domain_dev.tsv").write_text("\n".join(lines) + "\n")
    with pytest.raises(BadRowError, match=r"in_domain_dev.tsv:7: expected 4 tab-separated columns"):
        cola.load(folder)


@pytest.mark.slow
def test_the_real_release_has_its_documented_sizes():
    data = cola.load(SHARED_DATA / "cola")
    assert data.sizes() == {"train": 7696, "validation": 855, "in_domain_dev": 527, "out_of_domain_dev": 516}
    assert np.mean(data.test.labels) == pytest.approx(365 / 527)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tiny_bert_dir, hub_cache):
    out = tmp_path_factory.mktemp("cola_runs")
    data = write_cola(out / "data")
    code, stdout, stderr = run_cola("--data-dir", data, "--encoder", tiny_bert_dir, "--variants", "tuned", "mean",
                                    "frozen", "--epochs", "2", "--max-length", "32", "--verbose", "0",
                                    "--out", out / "runs", "--hub-cache", hub_cache)  # the tests' one export
    assert code == 0, stderr[-3000:]
    return out / "runs", stdout


@pytest.mark.slow
def test_training_prints_mcc_and_accuracy_on_both_dev_sets_beside_the_majority_baseline(trained_run):
    out, stdout = trained_run
    assert "| variant | recipe | trainable / total params | in-domain MCC | in-domain accuracy | out-of-domain MCC |" \
        in stdout
    assert re.search(r"\| always '(un)?acceptable' \| - \| 0 / 0 \| 0.000 \| 0.500 \| 0.000 \| 0.500 \|", stdout)
    assert "| tuned | pooled output, lr 5e-05, 2 epochs, warmup 0.1, wd 0.01, eps 1e-08 |" in stdout  # the recipe run
    assert "| mean | mean pooling, lr 5e-05, 2 epochs, warmup 0.1, wd 0.01, eps 1e-08 |" in stdout
    for variant in ("tuned", "mean", "frozen"):
        metrics = files.read_json(out / variant / runs.METRICS)
        assert {"test_mcc", "test_accuracy", "out_of_domain_dev_mcc", "out_of_domain_dev_accuracy"} <= set(metrics)
        assert (out / variant / "predictions_out_of_domain_dev.csv").is_file()
        assert (out / variant / "confusion_matrix.png").is_file() and (out / variant / "learning_curves.png").is_file()
        history = files.read_json(out / variant / runs.HISTORY)
        assert "val_mcc" in history[0] and metrics["best_epoch"] == max(
            range(len(history)), key=lambda e: history[e]["val_mcc"])


@pytest.mark.slow
def test_keep_last_scores_the_last_epoch_whatever_validation_says(tmp_path, tiny_bert_dir):
    data = write_cola(tmp_path / "data")
    code, _, stderr = run_cola("--data-dir", data, "--encoder", tiny_bert_dir, "--variants", "frozen", "--keep", "last",
                               "--epochs", "3", "--max-length", "16", "--verbose", "0", "--out", tmp_path / "runs")
    assert code == 0, stderr[-3000:]
    run = tmp_path / "runs" / "frozen"
    assert files.read_json(run / runs.METRICS)["best_epoch"] == 2
    assert train.best_epoch(files.read_json(run / runs.HISTORY), "val_mcc") != 2  # validation would pick another


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["tuned", "mean"])  # HF ids model and TF-Hub strings model
def test_predict_judges_every_piped_line_empty_long_and_not_utf8_ones_included(trained_run, variant):
    out, _ = trained_run
    long = "word " * 100  # 500 characters: cut to the model's length
    huge = "the coach says " * 70_000  # a megabyte on one line: cut before tokenizing, still judged
    stdin = f"The cat sat on the mat.\n\n{long}\n{'x' * 1200}\n".encode() + b"Jos\xe9 sat on the mat.\n" + \
        f"{huge}\nThe dog barked.".encode()  # a Latin-1 byte, and no final newline
    code, stdout, stderr = run_cola("predict", "--model", out / variant, stdin=stdin)
    assert code == 0, stderr[-3000:]
    lines = stdout.strip("\n").split("\n")
    assert len(lines) == 7
    assert lines[0].split(" (p = ")[0] in ("acceptable", "unacceptable") and lines[0].endswith("The cat sat on the mat.")
    assert lines[1].startswith("(empty: type a sentence)")
    assert "(judged on its first 30 word pieces only)" in lines[2]
    assert lines[3].split(" (p = ")[0] in ("acceptable", "unacceptable")  # one 1,200-character word
    assert lines[4].endswith("Jos\ufffd sat on the mat.") and " (p = " in lines[4]
    assert "(judged on its first 30 word pieces only)" in lines[5]
    assert lines[6].endswith("The dog barked.")
    assert [line for line in stderr.splitlines() if "UTF-8" in line] == ["warning: line 5: byte 0xe9 at column 4 is not UTF-8; judged with it "
                                           "replaced by \ufffd", "1 line(s) had bytes that are not UTF-8 (replaced "
                                           "by \ufffd)"]


@pytest.mark.slow
def test_predict_without_a_trained_model_says_what_to_do(tmp_path):
    code, _, stderr = run_cola("predict", "--model", tmp_path)
    assert code != 0 and "no trained model in" in stderr and "python -m experiments.cola" in stderr
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_the_notebook_widget_shows_a_verdict_on_click(trained_run):
    from tfbert.verdict import Judge, widget
    out, _ = trained_run
    box = widget(out / "tuned")
    (text, button), output = box.children[0].children, box.children[1]
    text.value = "The cat sat on the mat."
    button.click()
    assert output.value == f"<b>{Judge(out / 'tuned')('The cat sat on the mat.')}</b>" and "(p = " in output.value


WIDGET_CLICK = """
import sys
import ipywidgets
from tfbert.verdict import widget
box = widget(sys.argv[1])
(text, button), output = box.children[0].children, box.children[1]
text.value = "The cat sat on the mat."
button.click()
print(ipywidgets.__version__, output.value)
"""


@pytest.mark.slow
@pytest.mark.skipif(not REGISTRY, reason="no package registry reachable: cannot fetch ipywidgets 7")
def test_the_widget_works_with_colabs_ipywidgets_7_too(trained_run, tmp_path):
    """Colab renders ipywidgets 7.7.1 widgets only, and the notebooks leave Colab's ipywidgets alone."""
    target = tmp_path / "ipywidgets7"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    "ipywidgets==7.7.1", "ipython_genutils==0.2.0"], check=True, capture_output=True, timeout=300)
    out, _ = trained_run
    done = subprocess.run([sys.executable, "-c", WIDGET_CLICK, str(out / "tuned")], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(target)}, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    version, verdict = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert version == "7.7.1" and verdict.startswith("<b>") and "(p = " in verdict

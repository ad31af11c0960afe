"""KantaiBERT: corpus split, BPE tokenizer, MLM masking in tf.data, the model, fill-mask, the run."""
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tfbert import files, runs
from tfbert.data import BadRowError, bpe, kant, mlm
from tfbert.keras import tf
from tfbert.models import kantaibert

from conftest import ROOT, SHARED_DATA

WORDS = "reason judgement experience intuition concept understanding nature freedom duty law".split()


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    """Two small books, one with a BOM and CRLF line endings, with blank lines between sentences."""
    folder = tmp_path_factory.mktemp("kant")
    rng = np.random.default_rng(0)
    for name, bom in [("kant_b.txt", b"\xef\xbb\xbf"), ("kant_a.txt", b"")]:
        lines = [" ".join(rng.choice(WORDS, size=rng.integers(3, 12))) + "." for _ in range(300)]
        (folder / name).write_bytes(bom + "\r\n\r\n".join(lines).encode() + b"\r\n")
    (folder / "notes.txt").write_text("not a kant_*.txt file\n")
    return folder


@pytest.fixture(scope="module")
def trained(corpus_dir):
    return bpe.train_tokenizer(kant.read_corpus(corpus_dir)[0], vocab_size=300)


@pytest.fixture(scope="module")
def tokenizer(trained, tmp_path_factory):
    return bpe.save_as_roberta(trained, tmp_path_factory.mktemp("tok"))


def test_the_corpus_is_non_empty_stripped_lines_in_file_order_with_every_20th_held_out(corpus_dir):
    train, held_out = kant.read_corpus(corpus_dir)
    assert len(train) + len(held_out) == 600 and len(held_out) == 30
    a_lines = [line for line in (corpus_dir / "kant_a.txt").read_text().splitlines() if line.strip()]
    assert held_out[0] == a_lines[0] and train[0] == a_lines[1]  # kant_a.txt comes first
    assert all(line == line.strip() and line and "\ufeff" not in line for line in train + held_out)


@pytest.mark.slow
def test_the_real_corpus_gives_787_batches_of_64():
    train, held_out = kant.read_corpus(SHARED_DATA / "kant")
    assert (len(train), len(held_out)) == (50_357, 2_651)
    assert -(-len(train) // 64) == 787


def test_a_line_that_is_not_utf8_is_named_by_file_and_line(tmp_path):
    (tmp_path / "kant_x.txt").write_bytes(b"good line\r\nbad \xff line\r\n")
    with pytest.raises(BadRowError, match=r"kant_x.txt:2: bytes that are not UTF-8"):
        kant.read_corpus(tmp_path)
    with pytest.raises(FileNotFoundError, match="no kant_\\*.txt files"):
        kant.read_corpus(tmp_path / "missing")


def test_the_tokenizer_reloads_as_roberta_with_the_same_tokens_and_robertas_special_ids(trained, tokenizer):
    assert [tokenizer.convert_tokens_to_ids(t) for t in bpe.SPECIAL_TOKENS] == [0, 1, 2, 3, 4]
    assert (tokenizer.pad_token_id, tokenizer.mask_token_id) == (1, 4)
    assert len(trained.get_vocab()) == tokenizer.vocab_size == 300
    text = "Reason gives the law to freedom; duty, nature!"
    assert tokenizer(text, add_special_tokens=False)["input_ids"] == trained.encode(text).ids
    ids = tokenizer("Reason gives the law to <mask> freedom.")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2 and 4 in ids


def masks(ids, key=(1, 2), **kwargs):
    return mlm.mask_tokens(tf.constant(ids), tf.constant(key, tf.int64), mask_id=4, vocab_size=1000,
                           special_ids=[0, 1, 2, 3, 4], **kwargs)


def test_masking_chooses_15_percent_then_80_10_10_and_never_special_or_padding_tokens():
    rng = np.random.default_rng(0)
    ids = rng.integers(5, 1000, size=(512, 128))
    ids[:, 0], ids[:, 100], ids[:, 101:] = 0, 2, 1  # <s> ... </s> then padding
    inputs, labels = (t.numpy() for t in masks(ids))
    chosen = labels != mlm.IGNORE
    candidates = ids > 4
    assert not chosen[~candidates].any()  # specials and padding are never chosen
    assert chosen.sum() / candidates.sum() == pytest.approx(0.15, abs=0.005)
    np.testing.assert_array_equal(labels[chosen], ids[chosen])
    np.testing.assert_array_equal(inputs[~chosen], ids[~chosen])
    masked, kept = inputs[chosen] == 4, inputs[chosen] == ids[chosen]
    replaced = ~masked & ~kept
    assert masked.mean() == pytest.approx(0.8, abs=0.01)
    assert replaced.mean() == pytest.approx(0.1 * (1 - 1 / 1000), abs=0.01)
    assert kept.mean() == pytest.approx(0.1, abs=0.01)


def test_masks_are_a_function_of_the_key():
    ids = np.random.default_rng(1).integers(5, 1000, size=(8, 30))
    np.testing.assert_array_equal(masks(ids)[0].numpy(), masks(ids)[0].numpy())
    assert not np.array_equal(masks(ids)[0].numpy(), masks(ids, key=(1, 3))[0].numpy())


def test_mlm_batches_pad_with_the_pad_id_and_score_no_padding(tokenizer, corpus_dir):
    train, _ = kant.read_corpus(corpus_dir)
    ids = tf.ragged.constant(tokenizer(train[:50])["input_ids"], dtype=tf.int64)
    batches = list(mlm.mlm_batches(ids, 16, seed=0, epoch=lambda: 0, pad_id=1, mask_id=4, vocab_size=300,
                                   special_ids=tokenizer.all_special_ids))
    assert [len(b["input_ids"]) for b in batches] == [16, 16, 16, 2]
    for batch in batches:
        mask, labels = batch["attention_mask"].numpy(), batch["labels"].numpy()
        assert mask.shape[1] == mask.sum(1).max()  # padded to the batch's longest line
        assert (batch["input_ids"].numpy()[mask == 0] == 1).all() and (labels[mask == 0] == mlm.IGNORE).all()


def test_the_books_model_has_83_504_416_parameters():
    assert kantaibert.count_params(kantaibert.build_model(kantaibert.PRESETS["book"])) == 83_504_416


def test_a_saved_model_reloads_with_identical_logits_and_fills_masks(tokenizer, tmp_path):
    from transformers import TFRobertaForMaskedLM
    model = kantaibert.build_model(kantaibert.PRESETS["tiny"])
    model.save_pretrained(str(tmp_path))
    reloaded = TFRobertaForMaskedLM.from_pretrained(str(tmp_path))
    encoded = tokenizer(["Reason gives the <mask>."], return_tensors="tf")
    np.testing.assert_array_equal(reloaded(encoded).logits.numpy(), model(encoded).logits.numpy())
    top = kantaibert.fill_mask(model, tokenizer, "Reason gives the <mask>.")
    assert len(top) == 5 and [t["score"] for t in top] == sorted((t["score"] for t in top), reverse=True)
    with pytest.raises(ValueError, match="exactly one <mask>"):
        kantaibert.fill_mask(model, tokenizer, "No mask here.")


@pytest.mark.slow
def test_the_run_trains_saves_fills_masks_and_resumes_after_a_kill(corpus_dir, tmp_path):
    command = [sys.executable, "-m", "experiments.kantaibert", "--data-dir", str(corpus_dir), "--size", "tiny",
               "--epochs", "3", "--batch-size", "4", "--lr", "1e-3", "--verbose", "0", "--out", str(tmp_path)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (tmp_path / "backup" / "chief" / "checkpoint").exists():
        assert process.poll() is None and time.time() < deadline, process.communicate()[1][-3000:]
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    first = files.read_json(tmp_path / runs.HISTORY)
    assert 1 <= len(first) < 3

    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    history = files.read_json(tmp_path / runs.HISTORY)
    assert [row["epoch"] for row in history] == [0, 1, 2]
    assert history[0] == first[0]  # resumed, not restarted
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    metrics = files.read_json(tmp_path / runs.METRICS)
    assert metrics["parameters"] == kantaibert.count_params(kantaibert.build_model(kantaibert.PRESETS["tiny"]))
    fills = json.loads((tmp_path / "fill_mask.json").read_text())
    assert len(fills["Human thinking involves human <mask>."]) == 5
    assert "Human thinking involves human <mask>." in done.stdout
    assert (tmp_path / "model" / "tf_model.h5").is_file() and (tmp_path / "tokenizer" / "vocab.json").is_file()


@pytest.mark.parametrize("static", [False, True], ids=["dynamic", "static"])
def test_scoring_only_the_chosen_tokens_gives_hfs_loss_and_gradients(tokenizer, corpus_dir, static):
    model = kantaibert.build_model(kantaibert.PRESETS["tiny"])
    ids = tf.ragged.constant(tokenizer(kant.read_corpus(corpus_dir)[0][:16])["input_ids"], dtype=tf.int64)
    shapes = dict(pad_lengths=(16, 32, 64), drop_remainder=True) if static else {}
    batch = next(iter(mlm.mlm_batches(ids, 16, seed=0, epoch=lambda: 0, pad_id=1, mask_id=4, vocab_size=300,
                                      special_ids=tokenizer.all_special_ids, **shapes)))
    hf_inputs = {name: batch[name] for name in ("input_ids", "attention_mask", "labels")}
    with tf.GradientTape(persistent=True) as tape:
        ours = model.chosen_token_loss(batch)
        hf = tf.reduce_mean(model(hf_inputs).loss)  # HF's: every position projected, -100 ignored
    np.testing.assert_allclose(float(ours), float(hf), rtol=1e-5)
    for a, b in zip(tape.gradient(ours, model.trainable_variables), tape.gradient(hf, model.trainable_variables)):
        np.testing.assert_allclose(tf.convert_to_tensor(a).numpy(), tf.convert_to_tensor(b).numpy(), atol=1e-6)
    if static:  # a fixed number of positions per batch shape, a fifth of the tokens: XLA compiles it
        tokens = int(tf.size(batch["input_ids"]))
        assert batch["chosen"].shape == (int(np.ceil(mlm.CHOSEN_SHARE * tokens)),)
        chosen = tf.reduce_sum(tf.cast(batch["labels"] != mlm.IGNORE, tf.float32))
        assert float(tf.reduce_sum(batch["chosen_weights"])) == float(chosen)
        compiled = tf.function(model.chosen_token_loss, jit_compile=True)
        np.testing.assert_allclose(float(compiled(batch)), float(hf), rtol=1e-5)


def test_static_batches_never_choose_more_tokens_than_they_have_room_for():
    ids = tf.constant([[0] + [7] * 18 + [2]] * 4, tf.int64)  # (4, 20), 18 candidates a row
    inputs, labels = mlm.mask_tokens(ids, tf.constant([0, 1], tf.int64), mask_id=4, vocab_size=300,
                                     special_ids=[0, 1, 2], rate=0.9, max_chosen=10)
    chosen = (labels.numpy() != mlm.IGNORE)
    assert chosen.sum() == 10 and (inputs.numpy()[~chosen] == ids.numpy()[~chosen]).all()  # the rest untouched
    positions, weights = mlm.chosen_positions(labels, 16)
    assert weights.numpy().tolist() == [1.0] * 10 + [0.0] * 6
    assert sorted(positions.numpy()[:10].tolist()) == np.flatnonzero(chosen).tolist()

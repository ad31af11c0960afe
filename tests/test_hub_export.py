"""HF BERT checkpoint -> TF-Hub preprocessing + encoder SavedModels that match HF's TFBertModel."""
import json
import re
import shutil

import numpy as np
import pytest
import tensorflow_hub as hub

from tfbert import encoders, hub_export
from tfbert.data import ag_news
from tfbert.keras import tf

from conftest import SHARED_DATA

TEXTS = ["the coach says the season is new!", "shares in chip market, after report", "zebra quantum"]


def hf_outputs(folder, texts, max_length):
    from transformers import BertTokenizerFast, TFBertModel
    batch = BertTokenizerFast(str(folder / "vocab.txt"), do_lower_case=True)(
        texts, padding="max_length", truncation=True, max_length=max_length, return_tensors="np")
    outputs = TFBertModel.from_pretrained(str(folder))(dict(batch), training=False)
    return batch, outputs


@pytest.mark.slow
def test_the_export_is_a_tfhub_pair_giving_hf_bert_outputs(tiny_bert_dir, tiny_hub_pair):
    inputs = hub.KerasLayer(tiny_hub_pair.preprocess)(tf.constant(TEXTS))
    outputs = hub.KerasLayer(tiny_hub_pair.encoder)(inputs)
    assert set(inputs) == {"input_word_ids", "input_mask", "input_type_ids"}
    assert {"pooled_output", "sequence_output", "encoder_outputs"} <= set(outputs)
    assert len(outputs["encoder_outputs"]) == 2 and outputs["sequence_output"].shape == (3, 32, 20)

    batch, expected = hf_outputs(tiny_bert_dir, TEXTS, max_length=32)
    np.testing.assert_array_equal(inputs["input_word_ids"].numpy(), batch["input_ids"])  # [UNK] for unknown words
    np.testing.assert_array_equal(inputs["input_mask"].numpy(), batch["attention_mask"])
    real = batch["attention_mask"].astype(bool)
    np.testing.assert_allclose(outputs["sequence_output"].numpy()[real], expected.last_hidden_state.numpy()[real],
                               atol=1e-5)
    np.testing.assert_allclose(outputs["pooled_output"].numpy(), expected.pooler_output.numpy(), atol=1e-5)


@pytest.mark.parametrize("setting", [{"hidden_act": "relu"}, {"layer_norm_eps": 1e-5}])
def test_a_checkpoint_the_encoder_cannot_reproduce_is_refused_naming_its_config(tiny_bert_dir, tmp_path, setting):
    folder = shutil.copytree(tiny_bert_dir, tmp_path / "bert")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **setting}))
    with pytest.raises(ValueError, match=re.escape(f"{folder}/config.json: {next(iter(setting))}")):
        hub_export.bert_config(folder)


@pytest.mark.slow
def test_an_export_is_cached_reused_and_exported_again_with_a_notice_when_damaged(tiny_bert_dir, tmp_path, capfd,
                                                                                 monkeypatch):
    pair = hub_export.cached_pair(tiny_bert_dir, seq_length=16, cache=tmp_path)
    entries = [p.name for p in (tmp_path / "hub").iterdir() if not p.name.endswith(".lock")]
    assert entries == [pair.encoder.split("/")[-2]]  # no temporary left
    with monkeypatch.context() as patched:
        patched.setattr(hub_export, "export", lambda *a: pytest.fail("exported again"))
        assert hub_export.cached_pair(tiny_bert_dir, seq_length=16, cache=tmp_path) == pair

    graph = tmp_path / "hub" / pair.encoder.split("/")[-2] / "encoder" / "saved_model.pb"
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])  # a disk that filled up mid-copy
    capfd.readouterr()
    assert hub_export.cached_pair(tiny_bert_dir, seq_length=16, cache=tmp_path) == pair
    notice = capfd.readouterr().err
    assert "notice: the TF-Hub export" in notice and "encoder/saved_model.pb has" in notice and "exporting it again" in notice
    assert hub_export.damage(graph.parents[1]) is None
    outputs = hub.KerasLayer(pair.encoder)(hub.KerasLayer(pair.preprocess)(tf.constant(TEXTS)))
    assert outputs["pooled_output"].shape == (3, 20)


@pytest.mark.slow
def test_an_export_does_not_depend_on_what_the_process_seeded_before(tiny_bert_dir, tmp_path):
    """The encoder's dropout ops take their seeds when the export traces them: two exports made after different
    seeds must drop the same units, or fine-tuning on an export would depend on the run that happened to make it."""
    from tfbert.keras import keras
    dropped = []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        pair = hub_export.cached_pair(tiny_bert_dir, seq_length=16, cache=tmp_path / f"cache{seed}")
        inputs = hub.KerasLayer(pair.preprocess)(tf.constant(TEXTS))
        encoder = hub.KerasLayer(pair.encoder, trainable=True)  # else the layer ignores training=True
        dropped.append(encoder(inputs, training=True)["sequence_output"].numpy())
        assert not np.allclose(dropped[-1], encoder(inputs, training=False)["sequence_output"].numpy())  # it drops
    np.testing.assert_array_equal(*dropped)


@pytest.mark.slow
def test_trainable_is_the_only_difference_between_frozen_and_fine_tuned(tiny_hub_pair):
    from tfbert.keras import keras
    for trainable in (False, True):
        encoder = hub.KerasLayer(tiny_hub_pair.encoder, trainable=trainable)
        inputs = hub.KerasLayer(tiny_hub_pair.preprocess)(tf.constant(TEXTS))
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(encoder(inputs, training=True)["pooled_output"] ** 2)
        weights = [v for v in encoder.variables if v.dtype.is_floating]  # not the do_lower_case flag
        before = [v.numpy() for v in weights]
        keras.optimizers.SGD(0.1).apply_gradients(
            (g, v) for g, v in zip(tape.gradient(loss, encoder.trainable_variables), encoder.trainable_variables))
        changed = sum(not np.array_equal(b, v.numpy()) for b, v in zip(before, weights))
        assert len(weights) == 5 + 2 * 16 + 2  # 3 embeddings + their layer norm, 16 per layer, pooler
        assert (len(encoder.trainable_variables), changed) == ((len(weights),) * 2 if trainable else (0, 0))


@pytest.mark.slow
def test_the_minilm_export_matches_hf_on_ag_news_texts(tmp_path):
    directory = encoders.minilm_dir()
    pair = hub_export.cached_pair(directory, cache=tmp_path)  # a fresh export, not the user's cache
    texts = ag_news.load(SHARED_DATA / "ag_news").test.texts[:64]
    inputs = hub.KerasLayer(pair.preprocess)(tf.constant(texts))
    outputs = hub.KerasLayer(pair.encoder)(inputs)
    batch, expected = hf_outputs(directory, texts, max_length=128)
    np.testing.assert_array_equal(inputs["input_word_ids"].numpy(), batch["input_ids"])
    real = batch["attention_mask"].astype(bool)
    assert np.abs(outputs["sequence_output"].numpy()[real] - expected.last_hidden_state.numpy()[real]).max() <= 1e-4
    assert np.abs(outputs["pooled_output"].numpy() - expected.pooler_output.numpy()).max() <= 1e-4

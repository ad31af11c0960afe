"""BERT's WordPiece tokenization as TensorFlow ops (tf_text), so it runs inside tf.data and SavedModels.

    tokenize = WordPiece(vocab_file, max_length=128)
    ids = tokenize(tf.constant(["Hello world!"]))   # (B, None) ragged: [CLS] ... [SEP], cut at max_length

Verified equal to HF's `BertTokenizerFast` on every AG News text (tests/test_encoders.py).
"""
import tensorflow_text as tf_text

from tfbert.keras import tf


def read_vocab(vocab_file) -> list[str]:
    """A vocab.txt's tokens: one per line, the line number is the id."""
    return [line.rstrip("\n") for line in open(vocab_file, encoding="utf-8")]


class WordPiece(tf.Module):
    """Strings -> ragged WordPiece ids with [CLS] and [SEP], at most `max_length` ids per text.

    Args:
        vocab_file: the checkpoint's vocab.txt (one token per line, the line number is the id).
        max_length: longest output, [CLS] and [SEP] included.
        lower_case: lower-case and strip accents first (uncased checkpoints).
    """

    def __init__(self, vocab_file, max_length=128, lower_case=True):
        super().__init__(name="wordpiece")  # a tf.Module: its lookup table is saved with a SavedModel that holds it
        vocab = read_vocab(vocab_file)
        self.pad_id, self.cls_id, self.sep_id = (vocab.index(t) for t in ("[PAD]", "[CLS]", "[SEP]"))
        self.max_length = max_length
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(vocab, tf.range(len(vocab), dtype=tf.int64)), default_value=-1)
        self.tokenizer = tf_text.BertTokenizer(table, token_out_type=tf.int64, lower_case=lower_case,
                                               unknown_token="[UNK]")

    def __call__(self, texts) -> tf.RaggedTensor:
        pieces = self.tokenizer.tokenize(texts).merge_dims(-2, -1)[:, : self.max_length - 2]  # (B, None)
        batch = pieces.nrows()
        cls = tf.fill([batch, 1], tf.constant(self.cls_id, tf.int64))
        sep = tf.fill([batch, 1], tf.constant(self.sep_id, tf.int64))
        return tf.concat([cls, pieces, sep], axis=1)  # (B, None): [CLS] pieces [SEP]

    def dense(self, texts) -> tf.Tensor:
        """(B, T) int32 ids padded with [PAD] to the longest text, what `models.bert.hf_classifier` takes."""
        return tf.cast(self(texts).to_tensor(self.pad_id), tf.int32)

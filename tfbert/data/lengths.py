"""How batches of texts are shaped, for the tf.data batches (`pipeline`) and the NumPy ones (`tfbert.keras3.fit`)
alike; no TensorFlow is imported here."""

BUCKET_BATCHES = 50  # batches per sorting chunk: enough to find similar lengths, small enough to stay random


def pad_lengths(max_length: int, multiple: int) -> tuple[int, ...]:
    """The lengths static-shape batches are padded to: the multiples of `multiple` below `max_length`, and it."""
    if multiple <= 0:
        raise ValueError(f"the padding multiple must be positive, got {multiple}")
    return tuple(range(multiple, max_length, multiple)) + (max_length,)

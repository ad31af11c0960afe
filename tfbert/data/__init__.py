"""Datasets as in-memory splits (`splits`), read with file:line errors (`rows`), fed by `pipeline`."""
from tfbert.data.online import OfflineError
from tfbert.data.rows import BadRowError, SkippedRows
from tfbert.data.splits import Split, TextClassificationData

__all__ = ["BadRowError", "OfflineError", "SkippedRows", "Split", "TextClassificationData"]

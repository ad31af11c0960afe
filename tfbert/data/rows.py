"""Reading delimited text files (CSV, TSV) with errors that name the file and the line.

Every dataset reader in tfbert goes through `read_rows`: it decodes strictly as UTF-8, hands each
parsed row to a `parse` function that raises `ValueError` for a bad row, and either stops at the first
bad row with a `BadRowError` (the default) or, with `skip_bad_rows=True`, skips it and records it in a
`SkippedRows` that the run reports in its metrics.
"""
import csv
import dataclasses
from pathlib import Path
from typing import Callable, Iterator, TypeVar

Row = TypeVar("Row")


class BadRowError(ValueError):
    """A row that cannot be used; the message starts with `path:line:`."""

    def __init__(self, path, line, reason):
        super().__init__(f"{path}:{line}: {reason}")
        self.path, self.line, self.reason = str(path), line, reason


@dataclasses.dataclass
class SkippedRows:
    """Rows skipped under `skip_bad_rows=True`, reported instead of silently dropped."""

    errors: list = dataclasses.field(default_factory=list)  # BadRowError, in file order

    def __len__(self):
        return len(self.errors)

    def summary(self, limit=20):
        """A JSON-ready summary: the count and the first `limit` messages."""
        return {"count": len(self.errors), "first": [str(e) for e in self.errors[:limit]]}


def _decoded_lines(path: Path, not_utf8: dict) -> Iterator[str]:
    """Yields the file's lines decoded as UTF-8; records undecodable lines in `not_utf8` (line -> reason)."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                not_utf8[number] = f"bytes that are not UTF-8 (byte {raw[e.start]:#04x} at column {e.start + 1})"
                line = raw.decode("utf-8", errors="replace")
            yield line.removeprefix("\ufeff") if number == 1 else line


def decode_typed(raw: bytes) -> tuple[str, str | None]:
    """Text a person typed or piped: (the text, bad bytes replaced by U+FFFD; what was wrong, or None).
    Unlike a dataset's rows, such text is not refused for a stray byte (a pasted Latin-1 name, say)."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as e:
        return raw.decode("utf-8", errors="replace"), f"byte {raw[e.start]:#04x} at column {e.start + 1} is not UTF-8"


def read_lines(path) -> list[str]:
    """The file's lines (BOM and line endings removed); bytes that are not UTF-8 raise `BadRowError`."""
    not_utf8, lines = {}, []
    for number, line in enumerate(_decoded_lines(Path(path), not_utf8), start=1):
        if number in not_utf8:
            raise BadRowError(path, number, not_utf8[number])
        lines.append(line.rstrip("\r\n"))
    return lines


def read_rows(
    path,
    parse: Callable[[list], Row],
    *,
    delimiter=",",
    quoting=csv.QUOTE_MINIMAL,
    skip_bad_rows=False,
    skipped: SkippedRows | None = None,
) -> list[Row]:
    """Parses every row of a delimited file with `parse(fields) -> Row`.

    Args:
        path: the file.
        parse: turns a list of fields into a row; raises `ValueError(reason)` for a bad one.
        delimiter, quoting: as for `csv.reader` (TSVs without quoting: `"\\t"`, `csv.QUOTE_NONE`).
        skip_bad_rows: skip bad rows (recorded in `skipped`) instead of raising `BadRowError`.
        skipped: where skipped rows are recorded; required with `skip_bad_rows=True`.

    Returns:
        The parsed rows, in file order.
    """
    if skip_bad_rows and skipped is None:
        raise ValueError("skip_bad_rows=True needs a SkippedRows to record the skipped rows in")
    path = Path(path)
    not_utf8 = {}
    reader = csv.reader(_decoded_lines(path, not_utf8), delimiter=delimiter, quoting=quoting)
    rows, last_line = [], 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as e:  # e.g. a quote that never closes
            error = BadRowError(path, reader.line_num, f"malformed {delimiter!r}-delimited row ({e})")
            if not skip_bad_rows:
                raise error from None
            skipped.errors.append(error)
            last_line = reader.line_num
            continue
        first_line, last_line = last_line + 1, reader.line_num  # a quoted field may span lines
        try:
            bad_bytes = [not_utf8[n] for n in range(first_line, last_line + 1) if n in not_utf8]
            if bad_bytes:
                raise ValueError(bad_bytes[0])
            rows.append(parse(fields))
        except ValueError as e:
            error = BadRowError(path, first_line, str(e))
            if not skip_bad_rows:
                raise error from None
            skipped.errors.append(error)
    return rows

"""Kant's books as the KantaiBERT corpus: one example per non-empty line, as in the book.

The lines of the `kant_*.txt` files, in sorted name order, stripped, empty ones dropped; every 20th
line (global index % 20 == 0) is held out for evaluation. On the seven books of ../shared/data/kant
that is 50,357 training and 2,651 held-out lines (787 batches of 64 per epoch).

Without a local folder the seven Project Gutenberg books are downloaded once (3.5 MB) into
`$TFBERT_CACHE/kant` (default ~/.cache/tfbert/kant), each from a pinned commit of its public GitHub repository
(the GITenberg project and gutenbergbooks), and checked against its size and sha256: the same bytes as
../shared/data/kant, so a run on either gives the same numbers.
"""
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from tfbert import files
from tfbert.data.online import OfflineError, local_folder, require_network
from tfbert.data.rows import read_lines
from tfbert.errors import UserError

DATA_DIR_VARIABLE = "TFBERT_KANT_DIR"
HELD_OUT_EVERY = 20
SOURCE = "https://raw.githubusercontent.com"
BOOKS = {  # file: (repository/commit/path under SOURCE, bytes, sha256)
    "kant_critique_of_judgement.txt": (
        "GITenberg/Kant-s-Critique-of-Judgement_48433/283e76042415e9f91f0f19b81f2a7895fcf0ba13/48433-0.txt",
        845_715, "e0ff8b92fa83af40c4b8284165006b4da0b5fd90fa99a3ae9b5584bacf1313dd"),
    "kant_critique_of_practical_reason.txt": (
        "GITenberg/The-Critique-of-Practical-Reason_5683/2ba181d7a8231a75fd311a836f49bc0be85eb712/5683.txt",
        397_391, "3ad485191a3ac3916e8c101008e15bbaac0ec280fbad2b8341088cb1bd0fccf2"),
    "kant_critique_of_pure_reason.txt": (
        "GITenberg/The-Critique-of-Pure-Reason_4280/ac3886e335d3f1e8b6c4dbd6f4088aea776ba6c1/4280-0.txt",
        1_313_936, "9c2923a640da2590ae577632e7e21e802e3fdb9f59e42bbf8fad9bbcca248168"),
    "kant_fundamental_principles_of_the_metaphysic_of_morals.txt": (
        "GITenberg/Fundamental-Principles-of-the-Metaphysic-of-Morals_5682/289f5d5a80d14cc005c04c681939c9f571c26878/"
        "5682.txt", 194_830, "bcb01322b371b62b628256ffb0e88d0732e7b4e3b4e080634607dcc456854146"),
    "kant_metaphysical_elements_of_ethics.txt": (
        "GITenberg/The-Metaphysical-Elements-of-Ethics_5684/cc17ce74bc02d2f77651f8e4731066941b78b5fc/5684.txt",
        99_399, "d31c8dd82424b79302793ac99691cb39e06e4257bf24ab3823a5cb8b22f66322"),
    "kant_perpetual_peace.txt": (
        "gutenbergbooks/50922/9dd19b197848d24ff1a68852d7cd7f617ad681c0/50922-0.txt",
        349_921, "29548dba0982adbf29d428b9916fe5202ecc35bdbec40e0d6b8382f734f1190f"),
    "kant_prolegomena.txt": (
        "gutenbergbooks/52821/6830dba046f0b2bad8736e12b6b89432363f8273/52821-0.txt",
        316_325, "93e194b38ea7534c4a8efa27aa18da28d3015ef959d47c4b8bdd9b222de2524a"),
}
HOW_TO_RUN_OFFLINE = (f"Pass a folder of kant_*.txt books with --data-dir or ${DATA_DIR_VARIABLE} "
                      "(e.g. ../shared/data/kant).")


def corpus_files(data_dir) -> list[Path]:
    files = sorted(Path(data_dir).glob("kant_*.txt"))
    if not files:
        raise FileNotFoundError(f"no kant_*.txt files in {data_dir} (pass --data-dir or ${DATA_DIR_VARIABLE})")
    return files


def _verified(path: Path, size: int, sha256: str) -> bool:
    return path.is_file() and path.stat().st_size == size and files.sha256(path) == sha256


def download(cache=None, source=None) -> Path:
    """The seven books in `cache`/kant (default `$TFBERT_CACHE`), each downloaded unless a verified copy is there.

    `source`: where the paths of `BOOKS` are (default `SOURCE`). A book whose size or sha256 differs from `BOOKS`
    is refused naming its URL (nothing of it is kept);
    without the network, `OfflineError` at once, saying what to pass instead."""
    folder = Path(cache or files.cache_dir()) / "kant"
    for name, (path, size, sha256) in BOOKS.items():
        target = folder / name
        if _verified(target, size, sha256):
            continue
        target.unlink(missing_ok=True)  # a damaged copy
        url = f"{source or SOURCE}/{path}"
        require_network("Downloading Kant's books", HOW_TO_RUN_OFFLINE, host=urlparse(url).hostname,
                        port=urlparse(url).port or 443)
        print(f"downloading {url} ({size:,} bytes)")
        try:
            with files.atomic(target) as tmp, urllib.request.urlopen(url, timeout=60) as response:
                tmp.write_bytes(response.read())
                if not _verified(tmp, size, sha256):
                    raise UserError(f"{url}: not the book tfbert pins ({tmp.stat().st_size:,} bytes, sha256 "
                                    f"{files.sha256(tmp)[:12]}..., expected {size:,} bytes, {sha256[:12]}...)")
        except (urllib.error.URLError, TimeoutError) as e:
            raise OfflineError(f"downloading {url} failed ({getattr(e, 'reason', e)}). {HOW_TO_RUN_OFFLINE}") from None
    return folder


def read_corpus(data_dir=None, offline=False) -> tuple[list[str], list[str]]:
    """(train lines, held-out lines) from `data_dir`, else `$TFBERT_KANT_DIR`, else the downloaded books (refused
    with `offline`)."""
    data_dir = local_folder(data_dir, DATA_DIR_VARIABLE, offline, HOW_TO_RUN_OFFLINE, what="Kant") or download()
    lines = [line.strip() for path in corpus_files(data_dir) for line in read_lines(path) if line.strip()]
    train = [line for i, line in enumerate(lines) if i % HELD_OUT_EVERY]
    held_out = [line for i, line in enumerate(lines) if i % HELD_OUT_EVERY == 0]
    return train, held_out

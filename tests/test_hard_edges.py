"""The commands mistreated as people do: a file or a read-only place for --out, a full disk, a file for --data-dir.
Each ends in one line that names what to fix, with a non-zero status, and leaves finished work as it was."""
import subprocess

import pytest

from tfbert import files, runs
from tfbert.data import kant

from conftest import SHARED_DATA
from experiments import agnews, kantaibert
from conftest import snapshot

TINY = ["--variants", "scratch", "--preset", "tiny", "--verbose", "0", "--batch-size", "16"]


def ends(main, *argv) -> str:
    """The one line a command ends with (its SystemExit message)."""
    with pytest.raises(SystemExit) as stopped:
        main(list(map(str, argv)))
    assert isinstance(stopped.value.code, str), stopped.value.code
    assert "\n" not in stopped.value.code
    return stopped.value.code


@pytest.fixture
def disk(tmp_path):
    """mount(name, size, *options) -> a new tmpfs of `size` (e.g. "150k") at tmp_path/name; skipped without root."""
    mounted = []

    def mount(name, size, *options):
        point = tmp_path / name
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join([f"size={size}", *options]), "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot mount a small disk here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=True)


def fill(folder):
    """Writes a file into `folder` until its disk is full."""
    try:
        with open(folder / "filler", "wb", buffering=0) as f:
            while True:
                f.write(b"\0" * 4096)
    except OSError:
        pass


def test_an_out_that_is_a_file_or_read_only_and_a_data_dir_that_is_a_file(ag_news_dir, tmp_path, disk):
    (tmp_path / "notes.txt").write_text("mine\n")
    common = ["--data-dir", ag_news_dir, *TINY]
    assert ends(agnews.main, *common, "--out", tmp_path / "notes.txt") == (
        f"error: --out {tmp_path / 'notes.txt'} is a file, not a folder: pass a folder (it is created if missing)")
    assert ends(agnews.main, *common, "--out", tmp_path / "notes.txt" / "runs").startswith(
        f"error: --out {tmp_path / 'notes.txt' / 'runs'}: cannot write there (Not a directory)")
    assert (tmp_path / "notes.txt").read_text() == "mine\n"
    read_only = disk("read_only", "1m", "ro")
    assert ends(agnews.main, *common, "--out", read_only / "runs") == (
        f"error: --out {read_only / 'runs'}: cannot write there (Read-only file system): pass a folder you can "
        "write to")
    assert ends(agnews.main, "--data-dir", tmp_path / "notes.txt", *TINY, "--out", tmp_path / "out") == (
        f"error: {tmp_path / 'notes.txt'} is a file, not a folder. Pass a folder of AG News CSVs with --data-dir or "
        "TFBERT_DATA_DIR (for example ../shared/data/ag_news).")
    with pytest.raises(Exception, match="is a file, not a folder"):  # --debug: the exception itself
        agnews.main([*map(str, common), "--out", str(tmp_path / "notes.txt"), "--debug"])


@pytest.mark.slow
def test_a_full_disk_ends_in_one_line_keeps_the_last_complete_state_and_the_same_command_finishes_later(
        ag_news_dir, disk):
    small = disk("small", "150k")  # room for the run's small files, not for its first checkpoint
    run_dir = small / "out" / "scratch"
    command = ["--data-dir", ag_news_dir, *TINY, "--epochs", "3", "--out", small / "out"]
    line = ends(agnews.main, *command)
    assert line.startswith(f"error: no space left on the device holding {run_dir}/")
    assert line.endswith(f"then the same command resumes {run_dir} from epoch 1")
    leftovers = [p for p in run_dir.rglob("*")
                 if p.is_file() and (p.name.startswith(files.TEMPORARY) or "_temp" in str(p))]
    assert not leftovers  # nothing half-written (TensorFlow leaves its checkpoint's empty _temp folder)
    assert files.read_json(run_dir / runs.IDENTITY)  # what was written is whole

    subprocess.run(["mount", "-o", "remount,size=20m", str(small)], check=True)  # room again
    agnews.main(list(map(str, command)))
    assert [row["epoch"] for row in files.read_json(run_dir / runs.HISTORY)] == [0, 1, 2]
    assert (run_dir / runs.METRICS).is_file() and not (run_dir / runs.BACKUP).exists()

    finished = snapshot(run_dir)
    fill(small)
    assert ends(agnews.main, *command).startswith("error: no space left on the device holding ")  # the report
    assert snapshot(run_dir) == finished


@pytest.mark.slow
def test_kants_books_download_once_are_checked_and_offline_is_one_line(tmp_path, monkeypatch, http_server):
    """Served from this machine by a local HTTP server laid out as the pinned source, from ../shared/data/kant."""
    source = http_server({path: (SHARED_DATA / "kant" / name).read_bytes()
                          for name, (path, _, _) in kant.BOOKS.items()})
    folder = kant.download(tmp_path / "cache", source=source)
    assert sorted(p.name for p in folder.iterdir()) == sorted(kant.BOOKS)
    assert snapshot(folder) == {name: files.sha256(SHARED_DATA / "kant" / name) for name in kant.BOOKS}
    assert kant.download(tmp_path / "cache", source="http://127.0.0.1:9") == folder  # cached: no network needed

    (folder / "kant_prolegomena.txt").write_text("damaged")
    wrong = http_server({path: b"not Kant" for path, _, _ in kant.BOOKS.values()})
    with pytest.raises(kant.UserError, match="52821-0.txt: not the book tfbert pins"):
        kant.download(tmp_path / "cache", source=wrong)
    assert not (folder / "kant_prolegomena.txt").exists()  # the damaged copy is not kept either

    monkeypatch.delenv(kant.DATA_DIR_VARIABLE, raising=False)
    assert ends(kantaibert.main, "--offline", "--out", tmp_path / "run") == (
        "error: --offline was given but no Kant folder. Pass a folder of kant_*.txt books with --data-dir or "
        "$TFBERT_KANT_DIR (e.g. ../shared/data/kant).")
    monkeypatch.setenv("TFBERT_CACHE", str(tmp_path / "empty_cache"))
    monkeypatch.setattr(kant, "SOURCE", "http://127.0.0.1:9")  # nothing listens there: as offline
    assert ends(kantaibert.main, "--out", tmp_path / "run").startswith(
        "error: Downloading Kant's books needs the network, and 127.0.0.1 cannot be reached.")

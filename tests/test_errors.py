"""How every entry point ends when the user or the machine stops it: one line, a non-zero status, no traceback."""
import errno
import os
import signal

import pytest

from tfbert import errors
from tfbert.keras import tf


def ends(main, argv=(), capsys=None):
    """(exit status, stderr) of `errors.command(main)(argv)`."""
    with pytest.raises(SystemExit) as stopped:
        errors.command(main)(list(argv))
    code = stopped.value.code
    return (1, code) if isinstance(code, str) else (code, capsys.readouterr().err if capsys else "")


def test_ctrl_c_and_sigterm_end_with_what_the_same_command_does_next(capsys):
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}

    def interrupted(argv):
        errors.progress("the same command resumes runs/x/scratch from epoch 3")  # as the training loop says
        raise KeyboardInterrupt

    def terminated(argv):
        errors.progress("the same command resumes runs/x/scratch from epoch 3")
        os.kill(os.getpid(), signal.SIGTERM)
        signal.pause()  # the handler raises before this returns

    for main, status in ((interrupted, 130), (terminated, 143)):
        code, stderr = ends(main, capsys=capsys)
        assert code == status
        assert stderr.strip() == "interrupted; the same command resumes runs/x/scratch from epoch 3"
    assert {number: signal.getsignal(number) for number in before} == before  # put back as they were


def test_a_ctrl_c_inside_a_held_section_is_raised_when_the_section_has_finished(capsys):
    """As the backup of an epoch and the resume hint it makes true: a Ctrl-C cannot land between the two."""
    finished = []

    def backing_up(argv):
        errors.progress("the same command resumes runs/x/scratch from epoch 1")
        with errors.held():
            os.kill(os.getpid(), signal.SIGINT)  # the handler runs here, and raises nothing yet
            finished.append("backup")
            errors.progress("the same command resumes runs/x/scratch from epoch 2")
        finished.append("after")  # not reached

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal, even in the background
    try:
        code, stderr = ends(backing_up, capsys=capsys)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert code == 130 and finished == ["backup"]
    assert stderr.strip() == "interrupted; the same command resumes runs/x/scratch from epoch 2"


def test_a_signal_the_process_ignores_stays_ignored():
    """A shell starts a background job (`nohup`, `&`) with Ctrl-C ignored: the command must not take it back."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        seen = []
        errors.command(lambda argv: seen.append(signal.getsignal(signal.SIGINT)))([])
        assert seen == [signal.SIG_IGN] and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_that_a_destructor_swallowed_is_raised_again_by_the_training_loop(capsys):
    class Closes:
        def __del__(self):  # Python drops an exception raised here ("Exception ignored in ...")
            os.kill(os.getpid(), signal.SIGINT)
            sum(range(10))  # the handler runs here, inside the destructor

    def trains(argv):
        errors.progress("the same command resumes runs/x/scratch from epoch 3")
        Closes()  # collected at once: Ctrl-C lands in its destructor
        errors.raise_pending()  # what `train.fit` calls as each epoch ends
        raise AssertionError("the swallowed Ctrl-C was not raised again")

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal, even in the background
    try:
        code, stderr = ends(trains, capsys=capsys)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert code == 130 and stderr.strip().endswith("interrupted; the same command resumes runs/x/scratch from epoch 3")


def test_a_full_disk_an_unwritable_place_and_a_file_for_a_folder_are_one_line_naming_the_path():
    cases = {
        OSError(errno.ENOSPC, "No space left on device", "out/scratch/history.json"):
            "error: no space left on the device holding out/scratch/history.json: free some space or pass another "
            "--out; then the same command resumes out/scratch from epoch 2",
        OSError(errno.EROFS, "Read-only file system", "/mnt/ro/x"):
            "error: cannot write /mnt/ro/x (Read-only file system): pass a folder you can write to; then the same "
            "command resumes out/scratch from epoch 2",
        NotADirectoryError(errno.ENOTDIR, "Not a directory", "notes.txt/scratch"):
            "error: notes.txt/scratch: a file stands where a folder is needed: pass another path",
        tf.errors.ResourceExhaustedError(None, None, "{{function_node __wrapped__SaveV2_device_/job:localhost}} "
                                         "/data/out/backup/chief/ckpt-1_temp/part-0.data; No space left on device"):
            "error: no space left on the device holding /data/out/backup/chief/ckpt-1_temp/part-0.data: free some "
            "space or pass another --out; then the same command resumes out/scratch from epoch 2",
        errors.UserError("--out x is a file, not a folder"): "error: --out x is a file, not a folder",
    }
    for error, line in cases.items():
        def fails(argv, error=error):
            errors.progress("the same command resumes out/scratch from epoch 2")
            raise error
        assert ends(fails) == (1, line)


def test_a_bug_keeps_its_traceback_and_debug_shows_every_traceback(monkeypatch):
    def bug(argv):
        raise ZeroDivisionError("a bug")

    def full(argv):
        assert "--debug" not in argv  # taken out before the command's parser sees it
        raise OSError(errno.ENOSPC, "No space left on device", "x")

    with pytest.raises(ZeroDivisionError):
        errors.command(bug)([])
    with pytest.raises(OSError):
        errors.command(full)(["--debug"])
    monkeypatch.setenv("TFBERT_DEBUG", "1")
    with pytest.raises(OSError):
        errors.command(full)([])

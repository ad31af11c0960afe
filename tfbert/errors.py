"""How a command ends when the user or the machine stops it: one line that says what to do, never a traceback.

    @errors.command
    def main(argv=None):
        ...

Every entry point (`experiments.*`, `experiments.cola predict`, `experiments.interpret`, the benchmarks) is
wrapped in `command`. A mistake of the user's or a limit of the machine ends the process with one line on
stderr and a non-zero status:

| what happened | the line |
|---|---|
| Ctrl-C, SIGTERM | `interrupted; the same command resumes runs/agnews/scratch from epoch 4` (status 130, 143) |
| a full disk | `error: no space left on the device holding PATH: free some space or pass another --out; ...` |
| a read-only or forbidden place, a file where a folder is needed | `error: cannot write PATH (...): ...` |
| TensorFlow out of memory | `error: out of memory (...): a smaller --batch-size, ...` |
| a `UserError` raised by tfbert | its message |

What the same command does next comes from `progress`, which the run directories (`runs.run_once`) and the
training loop (`train.fit`) keep up to date. Files are written atomically (`files.atomic`), so what an
interrupted or failed write leaves is the last complete state. A bug (any other exception) still shows its
traceback. `--debug` (any entry point) or `TFBERT_DEBUG=1` shows the traceback of every failure.

This module imports no TensorFlow: TensorFlow's errors are recognised by their class names.
"""
import argparse
import contextlib
import errno
import functools
import os
import re
import signal
import sys
import threading

DEBUG_FLAG, DEBUG_VARIABLE = "--debug", "TFBERT_DEBUG"
DEBUG_HELP = f"show the full traceback of a failure (also: {DEBUG_VARIABLE}=1)"
INTERRUPTED, TERMINATED = 130, 143  # the shell's statuses for SIGINT and SIGTERM


class UserError(Exception):
    """A failure the user can fix; its message is the one line the command ends with."""


class Terminated(BaseException):
    """SIGTERM, raised where the main thread is (like KeyboardInterrupt for SIGINT)."""


START = "the same command starts again"
_next = {"text": START}


def progress(text: str):
    """Records what the same command would do if this process stopped now, e.g. "... resumes X from epoch 3"."""
    _next["text"] = text


def add_debug_option(parser: argparse.ArgumentParser):
    """Lists `--debug` in a command's help (`command` takes it out of argv before the parser runs)."""
    parser.add_argument(DEBUG_FLAG, action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)


_pending = []  # the signals received while a command runs
_holding = []  # open `held` sections


def _stop(signum, frame):
    _pending.append(signum)
    if not _holding:
        raise KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


@contextlib.contextmanager
def held():
    """A section a Ctrl-C or SIGTERM cannot split: a signal received inside is raised when the section ends."""
    _holding.append(True)
    try:
        yield
    finally:
        _holding.pop()
    if not _holding:
        raise_pending()


def raise_pending():
    """Raises again a Ctrl-C or SIGTERM that was swallowed: Python drops an exception raised while a destructor
    runs ("Exception ignored in ..."), so a signal landing then would be lost. `held` calls this as it ends; the
    training loop holds each epoch's backup."""
    if _pending:
        raise KeyboardInterrupt() if _pending[-1] == signal.SIGINT else Terminated()


def describe(error: BaseException) -> str | None:
    """The one line a user-caused or environment-caused failure ends with; None for anything else (a bug)."""
    then = f"then {_next['text']}"
    full = "error: no space left on the device holding {}: free some space or pass another --out; " + then
    unwritable = "error: cannot write {}: pass a folder you can write to; " + then
    if isinstance(error, UserError):
        return f"error: {error}"
    if isinstance(error, OSError):
        where = error.filename or "a file"
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            return full.format(where)
        if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return unwritable.format(f"{where} ({error.strerror})")
        if error.errno == errno.ENOTDIR:
            return f"error: {where}: a file stands where a folder is needed: pass another path"
        return None
    kind, message = type(error).__name__, str(getattr(error, "message", "") or error)
    if type(error).__module__.startswith("tensorflow"):  # e.g. tf.errors.ResourceExhaustedError from a checkpoint
        path = re.search(r"(?:^|\s)(/[^\s;]+)", message)  # TF names the file it was writing
        where = path.group(1).rstrip(":,.") if path else "a file"
        if "No space left on device" in message or "out of space" in message.lower():
            return full.format(where)
        if kind == "PermissionDeniedError" or "Read-only file system" in message:
            return unwritable.format(where)
        if kind == "ResourceExhaustedError":
            return f"error: out of memory ({_first_line(message)}): use a smaller --batch-size or --max-length; {then}"
    if isinstance(error, MemoryError):
        return f"error: out of memory: use a smaller --batch-size or --max-length; {then}"
    return None


def _first_line(message: str, most=160) -> str:
    line = message.strip().splitlines()[0] if message.strip() else ""
    return line if len(line) <= most else line[:most] + "..."


def command(main):
    """Wraps an entry point `main(argv=None)`: failures of the kinds `describe` knows end in one line.

    `--debug` is taken out of argv (sys.argv when argv is None) before `main` sees it."""

    @functools.wraps(main)
    def run(argv=None):
        arguments = list(sys.argv[1:] if argv is None else argv)
        debug = DEBUG_FLAG in arguments or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")
        arguments = [a for a in arguments if a != DEBUG_FLAG]
        main_thread = threading.current_thread() is threading.main_thread()  # where signal handlers can be set
        # A signal the process ignores stays ignored (a shell starts background jobs, `nohup` or `&`, ignoring Ctrl-C).
        previous = {number: signal.signal(number, _stop) for number in (signal.SIGINT, signal.SIGTERM)
                    if main_thread and signal.getsignal(number) is not signal.SIG_IGN}
        _pending.clear()
        progress(START)
        try:
            return main(arguments)
        except (KeyboardInterrupt, Terminated) as e:
            if debug:
                raise
            print(f"\ninterrupted; {_next['text']}", file=sys.stderr)
            raise SystemExit(INTERRUPTED if isinstance(e, KeyboardInterrupt) else TERMINATED) from None
        except Exception as e:  # noqa: BLE001: only the kinds `describe` knows end here; the rest re-raise
            line = None if debug else describe(e)
            if line is None:
                raise
            raise SystemExit(line) from None
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            _pending.clear()

    return run

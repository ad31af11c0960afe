"""The network check that runs before anything asks tfds, TF-Hub or the HF hub for a download.

Without it, an offline `tfds.load` retries for about 3.5 minutes before it fails.
"""
import os
import socket
import threading

from tfbert.errors import UserError


class OfflineError(RuntimeError):
    """The network is needed and not there; the message says which local files to pass instead."""


def is_reachable(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    """True if a TCP connection to host:port opens within `timeout` seconds (DNS lookup included)."""
    result = []

    def connect():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=connect, daemon=True)  # a hanging DNS lookup ignores socket timeouts
    thread.start()
    thread.join(timeout)
    return bool(result)


def require_network(what: str, instead: str, host: str = "storage.googleapis.com", port: int = 443):
    """Raises `OfflineError` at once if `host` is unreachable; `instead` tells the user what to pass."""
    if not is_reachable(host, port):
        raise OfflineError(f"{what} needs the network, and {host} cannot be reached. {instead}")


def local_folder(data_dir, variable: str, offline: bool, instead: str, what="dataset"):
    """The `what` folder to read: `data_dir`, else `$variable`; None means a download, refused if `offline`."""
    data_dir = data_dir or os.environ.get(variable)
    if not data_dir and offline:
        raise OfflineError(f"--offline was given but no {what} folder. {instead}")
    if data_dir and os.path.isfile(data_dir):
        raise UserError(f"{data_dir} is a file, not a folder. {instead}")
    return data_dir or None

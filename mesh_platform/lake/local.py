"""Where a lake URI is on this machine: a path or `file://` URI is local, an object store not."""

from __future__ import annotations

from urllib.parse import urlparse


def local_path(uri: str) -> str | None:
    """The folder `uri` names on this machine's file system; None for an object store."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        return None
    return parsed.path if parsed.scheme else uri


def is_local(uri: str) -> bool:
    """Whether `uri` (a path or URI) is on this machine's file system."""
    return local_path(uri) is not None

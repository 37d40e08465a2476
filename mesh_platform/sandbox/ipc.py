"""How frames and messages cross the sandbox's process boundary.

Frames travel as Arrow IPC *files* in memfds (anonymous memory, no path anyone could open):
the writer fills one, the reader maps it read-only and reads it without a copy. Messages are
JSON records on unix SOCK_SEQPACKET sockets, one record per message, with the memfds and the
reply socket attached as SCM_RIGHTS. What a sandboxed child sends is untrusted: records are
size-bounded and only ever parsed as JSON.
"""

from __future__ import annotations

import json
import mmap
import os
import socket
from typing import Any

import pyarrow as pa
import pyarrow.ipc

MAX_RECORD = 256 * 1024  # bytes of one JSON record
MAX_FDS = 250  # SCM_RIGHTS allows 253 per message


def memfd(name: str) -> int:
    """A new anonymous memory file (close-on-exec)."""
    return os.memfd_create(name[:240], os.MFD_CLOEXEC)


def write_table(fd: int, table: pa.Table) -> None:
    """Write `table` into the (empty) memfd `fd` as one Arrow IPC file."""
    with (
        os.fdopen(os.dup(fd), "wb") as sink,
        pa.ipc.new_file(sink, table.schema) as writer,
    ):
        writer.write_table(table)


def read_table(fd: int) -> pa.Table:
    """The Arrow table in memfd `fd`, mapped read-only (zero-copy; the map lives as long as
    the table's buffers). Raises ValueError when the file is empty."""
    size = os.fstat(fd).st_size
    if size == 0:
        raise ValueError("no Arrow data was written")
    mapped = mmap.mmap(fd, size, prot=mmap.PROT_READ)
    return pa.ipc.open_file(pa.py_buffer(mapped)).read_all()


def pair() -> tuple[socket.socket, socket.socket]:
    """A connected pair of record sockets (close-on-exec)."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    """Send one JSON record, with `fds` attached."""
    data = json.dumps(message, default=str).encode()
    if len(data) > MAX_RECORD:
        raise ValueError(f"a sandbox message of {len(data)} bytes is over {MAX_RECORD}")
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.send(data)


def receive(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """One record and the fds that came with it; (None, []) at the end of the stream."""
    data, fds, _, _ = socket.recv_fds(sock, MAX_RECORD, MAX_FDS)
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    try:
        message = json.loads(data)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        for fd in fds:
            os.close(fd)
        return {"garbled": data[:200].decode(errors="replace")}, []
    return message, fds

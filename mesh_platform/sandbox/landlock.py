"""Landlock through raw system calls (ctypes): an allow-list of files a process may read.

Landlock (Linux >= 5.13, TCP rules from ABI 4 = Linux 6.7) is an unprivileged LSM: a process
restricts itself and every process it starts afterwards, and cannot undo it. The sandbox
needs ABI 4: the file rules and "no TCP bind or connect". On kernels without
`LANDLOCK_RESTRICT_SELF_TSYNC` (ABI < 8) the restriction covers only the calling thread and
the threads and processes it creates afterwards, so the caller must be single-threaded (the
sandbox calls it in a child just forked, before anything else runs).

The system call numbers 444-446 are the same on every architecture (the unified table).
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import sys
from collections.abc import Iterable

MINIMUM_ABI = 4  # TCP bind/connect rules

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
_REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
_IOCTL_DEV = 1 << 15  # ABI 5
_FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | _IOCTL_DEV
READ_EXECUTE = EXECUTE | READ_FILE | READ_DIR
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def abi() -> int:
    """The kernel's Landlock ABI version; 0 where there is none (not Linux, an old kernel,
    Landlock not in the kernel's LSM list, a seccomp profile refusing it, gVisor)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        found = _libc().syscall(
            ctypes.c_long(_CREATE_RULESET),
            None,
            ctypes.c_size_t(0),
            ctypes.c_uint32(_CREATE_RULESET_VERSION),
        )
    except (OSError, AttributeError):
        return 0
    return max(int(found), 0)


def _call(libc: ctypes.CDLL, number: int, *args: object) -> int:
    result = int(libc.syscall(ctypes.c_long(number), *args))
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"landlock system call {number}: {os.strerror(code)}")
    return result


def _fs_handled(version: int) -> int:
    handled = (1 << 13) - 1  # ABI 1: execute .. make_sym
    if version >= 2:
        handled |= _REFER
    if version >= 3:
        handled |= TRUNCATE
    if version >= 5:
        handled |= _IOCTL_DEV
    return handled


def restrict(read: Iterable[str], read_write_files: Iterable[str] = ()) -> int:
    """Restrict the calling thread (and what it starts from now on) to reading and executing
    beneath `read`, reading and writing the files `read_write_files` (e.g. /dev/null); every
    other file access, every TCP bind and connect, and (ABI >= 6) abstract unix sockets and
    signals to processes outside the sandbox are refused. Paths that do not exist are skipped.
    Returns the ABI used; raises OSError (ENOSYS) below `MINIMUM_ABI`.
    """
    version = abi()
    if version < MINIMUM_ABI:
        raise OSError(errno.ENOSYS, f"Landlock ABI {version} < {MINIMUM_ABI}")
    libc = _libc()
    handled = _fs_handled(version)
    attr = struct.pack("QQ", handled, _NET_BIND_TCP | _NET_CONNECT_TCP)
    if version >= 6:
        attr += struct.pack("Q", _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL)
    buffer = ctypes.create_string_buffer(attr, len(attr))
    ruleset = _call(libc, _CREATE_RULESET, buffer, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
    try:
        for path in read:
            _allow(libc, ruleset, path, READ_EXECUTE & handled)
        for path in read_write_files:
            _allow(libc, ruleset, path, (READ_FILE | WRITE_FILE | TRUNCATE) & handled)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(code)}")
        _call(libc, _RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0))
    finally:
        os.close(ruleset)
    return version


def _allow(libc: ctypes.CDLL, ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not os.path.isdir(path):  # a rule on a file may carry only file rights
            access &= _FILE_ONLY
        rule = struct.pack("=Qi", access, fd)  # struct landlock_path_beneath_attr is packed
        buffer = ctypes.create_string_buffer(rule, len(rule))
        _call(
            libc,
            _ADD_RULE,
            ctypes.c_int(ruleset),
            ctypes.c_int(_RULE_PATH_BENEATH),
            buffer,
            ctypes.c_uint32(0),
        )
    finally:
        os.close(fd)

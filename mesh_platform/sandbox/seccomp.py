"""A seccomp filter, as raw BPF through ctypes: no sockets at all.

Landlock refuses TCP but not UDP nor unix sockets (a database's socket file, DNS). This
filter makes `socket(2)` fail with EACCES for every family, so no new connection of any kind
can be made; `socketpair` stays (it reaches nothing). It also refuses `io_uring_setup`
(io_uring can open sockets without `socket(2)`), the x32 system calls and any other
architecture's calls. With `SECCOMP_FILTER_FLAG_TSYNC` it covers every thread.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

_PR_SET_NO_NEW_PRIVS = 38
_SET_MODE_FILTER, _FILTER_FLAG_TSYNC = 1, 1
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06
_X32_SYSCALL_BIT = 0x40000000

# machine -> (AUDIT_ARCH_*, seccomp, socket, io_uring_setup)
_ARCHES = {
    "x86_64": (0xC000003E, 317, 41, 425),
    "aarch64": (0xC00000B7, 277, 198, 425),
}


def supported() -> bool:
    """Whether this machine's architecture has a filter here (x86-64 and arm64)."""
    return platform.machine() in _ARCHES


def _program(arch: int, socket: int, io_uring_setup: int, x32: bool) -> list[tuple[int, ...]]:
    refuse = _RET_ERRNO | errno.EACCES
    checks = [(_JGE_K, _X32_SYSCALL_BIT)] if x32 else []
    checks += [(_JEQ_K, socket), (_JEQ_K, io_uring_setup)]
    deny_at = 4 + len(checks) + 1  # index of the final "refuse", after "allow"
    program: list[tuple[int, ...]] = [
        (_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (_JEQ_K, 1, 0, arch),
        (_RET_K, 0, 0, refuse),  # another architecture's calling convention
        (_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    for offset, (op, value) in enumerate(checks):
        program.append((op, deny_at - (4 + offset) - 1, 0, value))
    program += [(_RET_K, 0, 0, _RET_ALLOW), (_RET_K, 0, 0, refuse)]
    return program


def deny_sockets() -> None:
    """Install the filter on the calling process (every thread); it cannot be removed."""
    machine = platform.machine()
    if machine not in _ARCHES:
        raise OSError(errno.ENOSYS, f"no seccomp filter for the architecture {machine}")
    arch, seccomp_nr, socket_nr, io_uring_nr = _ARCHES[machine]
    program = _program(arch, socket_nr, io_uring_nr, x32=machine == "x86_64")
    code = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    filters = ctypes.create_string_buffer(code, len(code))

    class _Program(ctypes.Structure):
        _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))

    fprog = _Program(len(program), ctypes.cast(filters, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        failed = ctypes.get_errno()
        raise OSError(failed, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(failed)}")
    result = libc.syscall(
        ctypes.c_long(seccomp_nr),
        ctypes.c_uint(_SET_MODE_FILTER),
        ctypes.c_uint(_FILTER_FLAG_TSYNC),
        ctypes.byref(fprog),
    )
    if result != 0:
        failed = ctypes.get_errno()
        raise OSError(failed, f"seccomp(SET_MODE_FILTER): {os.strerror(failed)}")

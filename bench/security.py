"""Security standards throughput: the engine's SQL functions vs a plain per-value Python loop.

One thread (DuckDB `threads = 1`; the Python loop is single-threaded), so figures are per
core. Each function runs over the same N distinct values as the loop over the same library
calls (hmac, cryptography's AES-SIV, str slicing / re), and the results are checked equal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from mesh_platform.engine.duckdb import DuckDBEngine
from mesh_platform.security.keys import Keyring

TARGETS = {"pseudonymize": 2e6, "mask_email": 2e6, "mask_phone": 2e6, "encrypt_det": 3e5}


def _best(function: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def run(n: int = 1_000_000) -> list[dict[str, Any]]:
    """Values per second of each function, engine vs Python loop, on `n` distinct values."""
    keys = Keyring({"k1": os.urandom(32)}, "k1")
    phones = [f"{10 + i % 25}-{i % 1000:03d}-{i // 1000 % 1000:03d}-{i:07d}" for i in range(n)]
    emails = [f"user{i}@example{i % 97}.com" for i in range(n)]
    table = pa.table({"phone": phones, "email": emails})
    con = DuckDBEngine(threads=1, keys=keys)._connect({"t": table})
    token_key = keys.token_key()
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV

    siv, aad = AESSIV(keys.cipher_key("k1")), [b"k1"]
    email_re = re.compile(r"^(.)[^@]*@")
    loops: dict[str, tuple[str, Callable[[], list[Any]]]] = {
        "pseudonymize": (
            "phone",
            lambda: [hmac.new(token_key, v.encode(), hashlib.sha256).hexdigest() for v in phones],
        ),
        "mask_email": ("email", lambda: [email_re.sub(r"\1***@", v, count=1) for v in emails]),
        "mask_phone": ("phone", lambda: ["*" * max(len(v) - 4, 0) + v[-4:] for v in phones]),
        "encrypt_det": (
            "phone",
            lambda: [
                "mesh1:k1:" + base64.b64encode(siv.encrypt(v.encode(), aad)).decode()
                for v in phones
            ],
        ),
    }
    rows = []
    for name, (column, loop) in loops.items():
        sql = f"SELECT {name}({column}) AS out FROM t"
        engine_s, engine_out = _best(lambda sql=sql: con.sql(sql).to_arrow_table().column(0))
        loop_s, loop_out = _best(loop, repeat=1)
        assert engine_out.slice(0, 1000).to_pylist() == loop_out[:1000], name
        rows.append(
            {
                "function": name,
                "values": n,
                "engine_per_s": n / engine_s,
                "python_loop_per_s": n / loop_s,
                "speedup": loop_s / engine_s,
                "target_per_s": TARGETS[name],
            }
        )
    con.close()
    return rows


def report(rows: list[dict[str, Any]]) -> str:
    """A table of the figures, one row per function."""
    lines = [
        f"{'function':<14}{'engine/s':>14}{'python loop/s':>16}{'speedup':>9}{'target/s':>12}  met",
    ]
    for r in rows:
        lines.append(
            f"{r['function']:<14}{r['engine_per_s']:>14,.0f}{r['python_loop_per_s']:>16,.0f}"
            f"{r['speedup']:>8.1f}x{r['target_per_s']:>12,.0f}  "
            f"{'yes' if r['engine_per_s'] >= r['target_per_s'] else 'NO'}"
        )
    return "\n".join(lines)

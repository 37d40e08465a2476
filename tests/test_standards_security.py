"""Security standards: deterministic encryption, keyed tokens, masking, keys and their secrecy."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pyarrow as pa
import pytest

from mesh_platform.dagster.resources import CatalogResource
from mesh_platform.engine.duckdb import DuckDBEngine
from mesh_platform.errors import StepFailed
from mesh_platform.loader.mesh import load_mesh
from mesh_platform.security.crypto import (
    DecryptionFailed,
    decrypt,
    decrypt_values,
    encrypt_values,
    token,
)
from mesh_platform.security.keys import Keyring, KeyUnavailable
from tests.mini_mesh import domain_assets, local_lakehouse, refused, write_mesh
from tests.policy_grants import decryption_granted

PEOPLE = """\
name: people
description: Landing copy of people.
source: {landing: people}
columns:
  - {name: id, type: bigint}
  - {name: name, type: string, tags: [pii]}
  - {name: email, type: string, tags: [pii]}
  - {name: phone, type: string, tags: [pii]}
  - {name: birth, type: date, tags: [pii]}
  - {name: balance, type: double}
"""

SHARED = """\
name: shared
description: People, protected.
inputs: {people: people}
steps:
  - sql: SELECT id, name, email, phone, birth, balance FROM people
  - use: encrypt
    with: {columns: [phone, email]}
  - use: pseudonymize
    with: {columns: [name]}
  - use: generalize
    with: {columns: [birth], to: month}
  - use: generalize
    with: {columns: [balance], to: bucket, width: 100}
"""


def random_keyring(*ids: str) -> Keyring:
    return Keyring({k: os.urandom(32) for k in ids}, ids[-1])


def test_encrypt_decrypt_round_trip_and_determinism() -> None:
    keys = random_keyring("k1")
    values = ["+1 555 0100", "12 Main St", None, "+1 555 0100", "é ü 漢字"]
    cipher = encrypt_values(keys, values)
    assert cipher[0] == cipher[3]  # same input and key, same ciphertext: joins still work
    assert cipher[2] is None
    assert all(c is None or c.startswith("mesh1:k1:") for c in cipher)
    assert "+1 555 0100" not in "".join(c or "" for c in cipher)
    assert decrypt_values(keys, cipher) == values
    assert decrypt(keys, cipher[4]) == "é ü 漢字"


def test_different_keys_give_different_tokens_and_ciphertext() -> None:
    a, b = random_keyring("k1"), random_keyring("k1")
    assert token(a, "Alice") != token(b, "Alice")
    assert encrypt_values(a, ["Alice"]) != encrypt_values(b, ["Alice"])
    with pytest.raises(DecryptionFailed, match="does not authenticate under key 'k1'"):
        decrypt(b, encrypt_values(a, ["Alice"])[0])


def test_key_rotation_keeps_old_ciphertext_readable() -> None:
    k1, k2 = os.urandom(32), os.urandom(32)
    old = Keyring({"k1": k1}, "k1")
    rotated = Keyring({"k1": k1, "k2": k2}, "k2")
    before = encrypt_values(old, ["secret"])[0]
    after = encrypt_values(rotated, ["secret"])[0]
    assert before is not None and after is not None
    assert after.startswith("mesh1:k2:") and before.startswith("mesh1:k1:")
    assert decrypt(rotated, before) == decrypt(rotated, after) == "secret"
    with pytest.raises(KeyUnavailable, match="MESH_KEY_K2"):
        decrypt(old, after)


def test_sql_functions_match_the_python_reference() -> None:
    keys = random_keyring("k1")
    engine = DuckDBEngine(threads=1, keys=keys)
    con = engine._connect({"t": pa.table({"v": ["Alice", "bob@example.com", None]})})
    rows = con.sql(
        "SELECT pseudonymize(v), encrypt_det(v), decrypt_det(encrypt_det(v)), mask_email(v), "
        "mask_phone(v), mask_partial(v, 2), generalize_number(37, 10), "
        "generalize_month(DATE '2024-05-17') FROM t"
    ).fetchall()
    expected = hmac.new(keys.token_key(), b"Alice", hashlib.sha256).hexdigest()
    assert rows[0][0] == expected == token(keys, "Alice")
    assert rows[0][1] == encrypt_values(keys, ["Alice"])[0]
    assert rows[0][2] == "Alice"
    assert rows[1][3] == "b***@example.com"
    assert rows[0][4] == "*lice" and rows[0][5] == "Al***"
    assert rows[0][6] == 30.0 and rows[0][7] == date(2024, 5, 1)
    assert rows[2][:3] == (None, None, None)


def test_missing_key_is_a_clear_error_without_material() -> None:
    empty = Keyring({}, None)
    with pytest.raises(KeyUnavailable, match="set MESH_KEY_<ID>"):
        _ = empty.current_id
    engine = DuckDBEngine(threads=1, keys=empty)
    con = engine._connect({"t": pa.table({"v": ["x"]})})
    with pytest.raises(Exception, match="no encryption key is configured"):
        con.sql("SELECT encrypt_det(v) FROM t").fetchall()


def test_prod_without_keys_fails_only_when_a_key_is_needed(monkeypatch) -> None:
    from mesh_platform.security.keys import build_keyring

    for name in [n for n in os.environ if n.startswith("MESH_KEY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MESH_ENV", "prod")
    keyring = build_keyring()
    assert not keyring.available
    with pytest.raises(KeyUnavailable, match="MESH_KEY"):
        keyring.token_key()
    monkeypatch.setenv("MESH_ENV", "local")
    assert build_keyring().current_id == "dev"
    monkeypatch.setenv("MESH_KEY_K7", "ab" * 32)
    monkeypatch.setenv("MESH_KEY_CURRENT", "k7")
    assert build_keyring().key_ids == ("k7",)
    assert "abab" not in repr(build_keyring())
    monkeypatch.setenv("MESH_KEY_K7", "not hex")
    # A wrong key setting fails only what needs a key, with one message naming the variable.
    broken = build_keyring()
    with pytest.raises(KeyUnavailable, match="MESH_KEY_K7 must be hex") as error:
        broken.require()
    assert "not hex" not in str(error.value)
    monkeypatch.setenv("MESH_KEY_K7", "ab" * 8)
    with pytest.raises(KeyUnavailable, match="shorter than 32 bytes"):
        build_keyring().require()


def _shop(tmp_path: Path, shared: str = SHARED) -> Path:
    return write_mesh(tmp_path, {"shop": {"people": PEOPLE, "shared": shared}})


def _write_people(tmp_path: Path) -> None:
    (tmp_path / "landing").mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        {
            "id": [1, 2, 3],
            "name": ["Alice", "Bob", "Alice"],
            "email": ["alice@example.com", "bob@example.com", "alice@example.com"],
            "phone": ["+1 555 0100", "+1 555 0101", "+1 555 0100"],
            "birth": [date(1990, 5, 17), date(1985, 1, 2), date(1990, 5, 17)],
            "balance": [123.0, 77.5, 123.0],
        }
    ).write_parquet(tmp_path / "landing/people.parquet")


def _secrets(keys: Keyring, master: bytes) -> list[str]:
    material = [master, keys.cipher_key("k1"), keys.token_key()]
    out = []
    for m in material:
        out += [m.hex(), base64.b64encode(m).decode(), m.hex().upper()]
    return out


def test_a_real_run_protects_columns_and_never_shows_key_material(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _shop(tmp_path)
    _write_people(tmp_path)
    master = os.urandom(32)
    keys = Keyring({"k1": master}, "k1")
    assets = domain_assets(root, "shop")
    caplog.set_level(logging.DEBUG)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        assets,
        resources={
            "lakehouse": local_lakehouse(tmp_path),
            "catalog": CatalogResource(url=f"sqlite:///{tmp_path / 'catalog.db'}"),
            "keys": keys,
        },
        instance=instance,
    )
    assert result.success
    data = pl.read_delta(str(tmp_path / "lake/shop/shared")).sort("id")
    phones = ["+1 555 0100", "+1 555 0101", "+1 555 0100"]
    assert decrypt_values(keys, data["phone"].to_list()) == phones
    assert data["email"][0] == data["email"][2]  # deterministic: still groups and joins
    assert data["name"].to_list()[0] == token(keys, "Alice") == data["name"][2]
    assert data["birth"].to_list() == [date(1990, 5, 1), date(1985, 1, 1), date(1990, 5, 1)]
    assert data["balance"].to_list() == [100.0, 0.0, 100.0]
    records = [
        r
        for key in (["shop", "people"], ["shop", "shared"])
        for r in instance.fetch_materializations(dg.AssetKey(key), limit=10).records
    ]
    assert len(records) == 2
    logs = instance.all_logs(result.run_id)
    text = "\n".join(
        [str(e) for e in logs]
        + [str(r.event_log_entry) for r in records]
        + [caplog.text, *capsys.readouterr()]
    )
    # What is searched holds what the UI shows of the run: its events and sample rows.
    assert "mesh/preview" in text and "ASSET_MATERIALIZATION" in text
    for secret in _secrets(keys, master):
        assert secret not in text


DECRYPTS = """\
name: shared
description: Decrypts plain text by mistake.
inputs: {people: people}
steps:
  - sql: SELECT id, decrypt_det(phone) AS phone FROM people
"""


def test_a_failing_keyed_step_names_the_problem_not_the_key(tmp_path: Path) -> None:
    root = _shop(tmp_path, DECRYPTS)
    _write_people(tmp_path)
    master = os.urandom(32)
    keys = Keyring({"k1": master}, "k1")
    with decryption_granted(tmp_path / "policy", "shop"):  # the platform's grant, not the tag
        plan = load_mesh(root).plans[("shop", "shared")]
    people = pl.read_parquet(tmp_path / "landing/people.parquet").to_arrow()
    with pytest.raises(StepFailed) as error:
        DuckDBEngine(threads=1, keys=keys).run(plan, {"people": people})
    assert "not Mesh ciphertext" in str(error.value)
    for secret in _secrets(keys, master):
        assert secret not in str(error.value)


def test_bad_parameters_are_spec_errors(tmp_path: Path) -> None:
    cases = {
        "  - use: encrypt\n    with: {columns: [phone, fax]}": "unknown column(s) fax",
        "  - use: generalize\n    with: {columns: [name], to: month}": "column 'name' is string",
        "  - use: generalize\n    with: {columns: [balance], to: bucket}": "needs `width:`",
        "  - use: mask\n    with: {columns: [name], style: shout}": "style",
        "  - use: pseudonymize\n    with: {columns: []}": "columns",
        "  - sql: SELECT getvariable('mesh_token_ipad') AS k FROM step_1": "may not call",
        "  - sql: SELECT decrypt_det(phone) AS p FROM step_1": "does not grant the shop domain",
    }
    for step, message in cases.items():
        spec = (
            "name: shared\ndescription: x\ninputs: {people: people}\nsteps:\n"
            "  - sql: SELECT id, name, phone, balance FROM people\n" + step + "\n"
        )
        root = _shop(tmp_path / message.replace(" ", "_")[:20], spec)
        error = refused(root)
        text = str(error.value)
        assert message in text, text
        assert re.search(r"shared.yaml:[67]: ", text), text


def test_a_keyed_run_without_a_key_is_a_platform_failure(tmp_path: Path) -> None:
    from mesh_platform.run.failures import PLATFORM, classify

    root = _shop(tmp_path)
    _write_people(tmp_path)
    mesh = load_mesh(root)
    people = pl.read_parquet(tmp_path / "landing/people.parquet").to_arrow()
    with pytest.raises(KeyUnavailable) as error:
        DuckDBEngine(threads=1, keys=Keyring({}, None)).run(
            mesh.plans[("shop", "shared")], {"people": people}
        )
    found = classify(error.value, mesh.products[("shop", "shared")].spec)
    assert found.failure_class == PLATFORM
    assert "MESH_KEY" in found.cause

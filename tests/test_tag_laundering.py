"""Tags follow values, not names (issue 20, item 2): a domain cleared for `pii` cannot republish
a PII column so that a domain without clearance reads it in clear.

`platform.people` is published with `name` tagged `pii`. `care` (clearance `pii`) republishes
it through each lineage path as `care.relay`; `ads` (no clearance) reads the relay. Either the
relay is refused at validate (a published column computed from `pii` must say so), or, once it
declares the tag, `ads`'s run reads the policy's mask of the value (computed here independently).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from mesh_platform.access import policy as access_policy_module
from mesh_platform.errors import SpecError, SpecErrors
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader.mesh import load_mesh
from mesh_platform.run.materialize import materialize_product
from mesh_platform.sandbox import client
from mesh_platform.security.keys import Keyring
from tests.mini_mesh import grant_clearances, validate_errors, write_approvals, write_mesh
from tests.policy_grants import decryption_granted

PEOPLE = """\
name: people
description: People, with what identifies them.
visibility: published
source: {landing: people}
columns:
  - {name: id, type: bigint}
  - {name: name, type: string, tags: [pii]}
  - {name: city, type: string}
"""
RELAY = """\
name: relay
description: care republishes what it reads of the people.
visibility: published
TAGS
inputs: {p: platform.people}
steps:
STEPS
columns:
  - {name: id, type: bigint, tags: [ID_TAGS]}
  - {name: label, type: string, tags: [LABEL_TAGS]}
QUALITY
"""
TAKE = """\
name: take
description: What ads reads of care's relay.
inputs: {r: care.relay}
steps:
  - sql: SELECT id, label FROM r
"""
NAMES = ["Alice Martin", "Bob", "Chloé Durand"]
ROWS = pl.DataFrame({"id": [1, 2, 3], "name": NAMES, "city": ["Paris", "Rome", "Oslo"]})


def masked(value: str) -> str:
    """The policy's mask for text (`redact`, keep 1), computed independently."""
    return value[:1] + "***"


# Each path republishes `name` as `label`, whole (the value the relay stores is the name).
PATHS = {
    "rename step": "  - sql: SELECT id, name FROM p\n"
    "  - use: rename\n    with: {columns: {name: label}}",
    "rename step swapping names": "  - sql: SELECT id, name, city AS label FROM p\n"
    "  - use: rename\n    with: {columns: {name: label, label: name}}\n"
    "  - sql: SELECT id, label FROM step_2",
    "Python rename": "  - sql: SELECT id, name FROM p\n  - python: MODULE:rename",
    "Python step keeping a column's name": "  - sql: SELECT id, name, city AS label FROM p\n"
    "  - python: MODULE:swap",
    "UNION branch": "  - sql: SELECT id, 'nobody' AS label FROM p WHERE id < 0 "
    "UNION ALL SELECT id, name AS label FROM p",
    "UNION branch masked first": "  - sql: SELECT id, mask_partial(name, 1) AS label FROM p "
    "WHERE id < 0 UNION ALL SELECT id, name AS label FROM p",
    "UNION in a WITH query": "  - sql: WITH u AS (SELECT id, city AS label FROM p WHERE id < 0 "
    "UNION ALL SELECT id, name AS label FROM p) SELECT id, label FROM u",
    "LATERAL VIEW explode": "  - sql: SELECT id, item AS label FROM p "
    "LATERAL VIEW explode(array(name)) t AS item",
    "mask_partial keeping everything": "  - sql: SELECT id, mask_partial(name, 200) AS label "
    "FROM p",
    "redact step keeping everything": "  - sql: SELECT id, name AS label FROM p\n"
    "  - use: redact\n    with: {columns: [label], keep: 100}",
    "mask step keeping everything": "  - sql: SELECT id, name AS label FROM p\n"
    "  - use: mask\n    with: {columns: [label], style: partial, keep: 100}",
    "mask_email of a non-email": "  - sql: SELECT id, mask_email(name) AS label FROM p",
    "mask_partial with a computed keep": "  - sql: SELECT id, mask_partial(name, length(name)) "
    "AS label FROM p",
}
STEPS_MODULE = """\
import polars as pl


def rename(frame):
    return frame.rename({"name": "label"})


def swap(frame):
    return frame.select(pl.col("id"), pl.col("name").alias("label"))
"""


@pytest.fixture(scope="module", autouse=True)
def _zygote_stops_with_the_module() -> Iterator[None]:
    yield
    client.shutdown()


def _relay(root: Path, steps: str, label_tags: str = "", tags: str = "", quality: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    module = f"care_steps_{uuid.uuid4().hex[:8]}"
    (root / f"{module}.py").write_text(STEPS_MODULE)
    relay = (
        RELAY.replace("STEPS", steps.replace("MODULE", module))
        .replace("LABEL_TAGS", label_tags)
        # A Python step may put any value it received in any column: `id` is `pii` too.
        .replace("ID_TAGS", label_tags if "python" in steps else "")
        .replace("TAGS", tags)
        .replace("QUALITY", quality)
    )
    write_mesh(root, {"platform": {"people": PEOPLE}, "care": {"relay": relay}, "ads": {}})
    (root / "domains/ads/products/take.yaml").write_text(TAKE)
    (root / "domains/care/domain.yaml").write_text("name: care\nteam: care\nclearances: [pii]\n")
    grant_clearances(root, {"care": ["pii"]})
    write_approvals(root)
    return root


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _errors(root: Path) -> str:
    return "\n".join(str(e) for e in validate_errors(root))


def _run_all(root: Path) -> list[dict[str, object]]:
    """platform.people from its landing file, care.relay, then ads.take: ads's rows."""
    (root / "landing").mkdir(exist_ok=True)
    ROWS.write_parquet(root / "landing/people.parquet")
    mesh = load_mesh(root)
    taken = None
    for key in (("platform", "people"), ("care", "relay"), ("ads", "take")):
        lake = Lakehouse(root=str(root / "lake"), landing_root=str(root / "landing"), domain=key[0])
        done = materialize_product(
            mesh.products[key].spec, mesh.plans[key], lake, keys=Keyring.dev()
        )
        taken = done.table
    assert taken is not None
    return sorted(taken.to_pylist(), key=lambda r: str(r["label"]))


@pytest.mark.parametrize("path", sorted(PATHS))
def test_a_path_that_keeps_the_value_keeps_the_pii_tag(root: Path, path: str) -> None:
    _relay(root, PATHS[path])
    errors = _errors(root)
    assert re.search(r"relay.yaml:\d+: published column '(label|id)' is (masked, )?pii", errors), (
        errors
    )
    assert re.search(r"add `tags: \[(masked, )?pii\]`", errors), errors


@pytest.mark.parametrize(
    "path", ["rename step", "Python rename", "UNION branch", "LATERAL VIEW explode"]
)
def test_declared_pii_reads_masked_for_a_domain_without_clearance(
    root: Path, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _relay(root / "undeclared", PATHS[path])
    monkeypatch.syspath_prepend(str(root / "undeclared"))
    assert "is pii" in _errors(root / "undeclared")  # the relay must say what it publishes
    _relay(root, PATHS[path], label_tags="pii")
    assert [r["label"] for r in _run_all(root)] == sorted(masked(n) for n in NAMES)


def test_tags_follow_case_windows_subqueries_json_and_collections(root: Path) -> None:
    formulas = {
        "CASE": "CASE WHEN id > 0 THEN name ELSE 'x' END",
        "window": "first_value(name) OVER (PARTITION BY city ORDER BY id)",
        "scalar subquery": "(SELECT max(q.name) FROM p AS q WHERE q.id = p.id)",
        "to_json": "to_json(named_struct('n', name))",
        "collect_list": "concat_ws(',', collect_list(name) OVER (PARTITION BY id))",
        "struct": "CAST(struct(name) AS STRING)",
    }
    for what, formula in formulas.items():
        _relay(root / what.replace(" ", "_"), f"  - sql: SELECT id, {formula} AS label FROM p")
        errors = _errors(root / what.replace(" ", "_"))
        assert "published column 'label' is pii" in errors, (what, errors)


def test_a_registered_mask_clears_pii_only_within_the_policys_bound(root: Path) -> None:
    _relay(root / "five", "  - sql: SELECT id, mask_partial(name, 5) AS label FROM p", "masked")
    assert "published column 'label' is pii" in _errors(root / "five")
    _relay(root, "  - sql: SELECT id, mask_partial(name, 2) AS label FROM p", "masked")
    # `masked` is not a tag the policy protects: ads reads the mask as care computed it.
    assert [r["label"] for r in _run_all(root)] == sorted(n[:2] + "*" * (len(n) - 2) for n in NAMES)


@pytest.fixture
def granted(tmp_path: Path) -> Iterator[None]:
    """An access policy of a higher version granting `care` decryption."""
    with decryption_granted(tmp_path / "policy", "care"):
        yield


DECRYPT = "  - sql: SELECT id, decrypt_det(encrypt_det(name)) AS label FROM p"


def test_decrypt_needs_the_policys_grant_not_a_tag_of_the_domain(root: Path) -> None:
    _relay(root, DECRYPT, "encrypted", tags="tags: {decrypt: authorized}")
    errors = validate_errors(root)
    (error,) = [e for e in errors if "decrypt_det" in e.problem]
    assert "the access policy does not grant the care domain decryption" in error.problem
    assert error.file is not None and error.file.name == "relay.yaml" and error.line == 7
    assert error.fix and "granted_to" in error.fix


def test_decrypted_values_are_pii_where_decryption_is_granted(root: Path, granted: None) -> None:
    _relay(root, DECRYPT, "encrypted")
    errors = _errors(root)
    assert "published column 'label' is pii" in errors, errors
    _relay(root, DECRYPT, "pii")
    assert [r["label"] for r in _run_all(root)] == sorted(masked(n) for n in NAMES)


def test_decrypt_is_never_allowed_in_a_quality_rule(root: Path, granted: None) -> None:
    rule = (
        "quality:\n  - rule: sql\n    name: peek\n"
        "    sql: SELECT id FROM relay WHERE decrypt_det(label) = 'Bob'\n"
    )
    _relay(root, "  - sql: SELECT id, encrypt_det(name) AS label FROM p", "encrypted", quality=rule)
    errors = validate_errors(root)
    (error,) = [e for e in errors if "decrypt_det" in e.problem]
    assert "quality rule 'peek'" in error.problem and "never" in error.problem
    assert error.file is not None and error.file.name == "relay.yaml"


def test_the_policy_refuses_a_mask_that_keeps_the_value(tmp_path: Path) -> None:
    text = Path(access_policy_module.policy_files()[0]).read_text()
    path = tmp_path / "access_policy.yaml"
    path.write_text(text.replace("with: {keep: 1}", "with: {keep: 200}"))
    with pytest.raises(SpecError) as caught:
        access_policy_module.load_policy(path)
    assert "keeps" in caught.value.problem and "pii" in caught.value.problem
    assert caught.value.line is not None and caught.value.file == path
    path.write_text(text.replace("decrypt: {granted_to: []}", "decrypt: {granted_to: finance}"))
    with pytest.raises(SpecErrors) as wrong:
        access_policy_module.load_policy(path)
    assert "field `decrypt.granted_to`" in str(wrong.value) and "access_policy.yaml:" in str(
        wrong.value
    )

"""The access policy: a readable, versioned standard; masking on read planned into the consumer's
steps (propagated tags count); hidden columns and products; who sees what."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import polars as pl
import pytest

from mesh_platform.access.policy import (
    AccessPolicy,
    access_for,
    access_policy,
    load_policy,
    policy_files,
    who_sees,
)
from mesh_platform.compile.contracts import contract_of
from mesh_platform.engine import get_engine
from mesh_platform.errors import SpecError, SpecErrors
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader.mesh import Mesh, load_mesh
from mesh_platform.security.keys import Keyring
from mesh_platform.spec.model import DomainSpec
from tests.mini_mesh import grant_clearances, local_lakehouse, refused, write_mesh

PEOPLE = """\
name: people
description: People, with what identifies them.
visibility: published
source: {landing: people}
columns:
  - {name: id, type: bigint}
  - {name: name, type: string, tags: [pii]}
  - {name: born, type: date, tags: [pii]}
  - {name: city, type: string}
  - {name: salary, type: double, tags: [secret]}
"""
# A product derived from PII: `loud_name` is PII by propagation; `token` is protected.
PROFILES = """\
name: profiles
description: People's profiles.
visibility: published
inputs: {people: people}
steps:
  - sql: SELECT id, upper(name) AS loud_name, pseudonymize(name) AS token, city FROM people
columns:
  - {name: id, type: bigint}
  - {name: loud_name, type: string, tags: [pii]}
  - {name: token, type: string, tags: [pseudonymized]}
  - {name: city, type: string}
"""
RESTRICTED = """\
name: payroll
description: The payroll, restricted.
visibility: published
tags: {sensitivity: restricted}
inputs: {people: people}
steps:
  - sql: SELECT id, city FROM people
columns:
  - {name: id, type: bigint}
  - {name: city, type: string}
"""
PROBE_PEOPLE = """\
name: see_people
description: What this domain sees of hr.people.
inputs: {people: hr.people}
steps:
  - sql: SELECT p.id, p.name, upper(name) AS shout, born, city, salary FROM people p
"""
PROBE_PROFILES = """\
name: see_profiles
description: What this domain sees of hr.profiles.
inputs: {profiles: hr.profiles}
steps:
  - sql: SELECT id, loud_name, token, city FROM profiles
"""
ROWS = {
    "id": [1, 2, 3],
    "name": ["Alice Martin", "Bob", "Chloé Durand"],
    "born": [dt.date(1990, 5, 17), dt.date(1985, 1, 2), dt.date(2001, 12, 31)],
    "city": ["Paris", "Rome", "Oslo"],
    "salary": [5100.0, 4200.0, 6300.0],
}


def masked(value: str) -> str:
    """The policy's mask for text (`redact`, keep 1), computed independently."""
    return value[:1] + "***"


def _mesh(root: Path) -> tuple[Mesh, Lakehouse]:
    probes = {"see_people": PROBE_PEOPLE, "see_profiles": PROBE_PROFILES}
    write_mesh(
        root,
        {
            "hr": {"people": PEOPLE, "profiles": PROFILES, **probes},
            "ads": dict(probes),
            "care": dict(probes),
        },
    )
    (root / "domains/care/domain.yaml").write_text("name: care\nteam: care\nclearances: [pii]\n")
    grant_clearances(root, {"care": ["pii"]})
    mesh = load_mesh(root)
    lakehouse = local_lakehouse(root)
    pl.DataFrame(ROWS).write_parquet(root / "landing/people.parquet")
    lakehouse.write(("hr", "people"), pl.DataFrame(ROWS).to_arrow())
    engine = get_engine(None, keys=Keyring.dev())
    plan = mesh.plans[("hr", "profiles")]
    profiles = engine.run(plan, {"people": lakehouse.dataset(("hr", "people"))}).table
    lakehouse.write(("hr", "profiles"), profiles)
    return mesh, lakehouse


def _see(mesh: Mesh, lakehouse: Lakehouse, domain: str, product: str) -> list[dict[str, object]]:
    key = (domain, f"see_{product}")
    spec = mesh.products[key].spec
    inputs = {port: lakehouse.dataset(ref) for port, ref in spec.input_refs().items()}
    table = get_engine(None, keys=Keyring.dev()).run(mesh.plans[key], inputs).table
    return sorted(table.to_pylist(), key=lambda r: r["id"])


def test_the_policy_is_a_registered_versioned_standard() -> None:
    (path,) = policy_files()
    assert path.name == "access_policy.yaml" and path.parent.name == "standards"
    policy = access_policy()
    assert policy == load_policy(path) and policy.version >= 1
    pii = policy.column_rules(["pii"])[0]
    assert pii.clear_for == ("pii",) and pii.others == "masked" and pii.mask.use == "redact"
    assert "contains_pii" in policy.central_approval
    text = path.read_text()
    assert "# " in text and "clear_for" in text  # written for people, with its comments


def test_a_consumer_without_clearance_reads_pii_masked_inside_its_plan(tmp_path: Path) -> None:
    mesh, lakehouse = _mesh(tmp_path)
    plan = mesh.plans[("ads", "see_people")]
    (step,) = plan.steps  # the consumer's steps, unchanged in number and names
    sql = step.query.sql("spark")  # type: ignore[union-attr]
    # Its input is read through the masking projection, a WITH query first in the step.
    assert sql.startswith("WITH people_masked AS (SELECT id, MASK_REDACT(name, 1) AS name, ")
    assert sql.endswith("FROM people_masked AS p")
    # Tags do not follow the mask: what the consumer derives from PII stays PII.
    tags = {c.name: c.tags for c in plan.columns}
    assert tags["name"] == ("pii",) and tags["shout"] == ("pii",)
    rows = _see(mesh, lakehouse, "ads", "people")
    assert [r["name"] for r in rows] == [masked(n) for n in ROWS["name"]]
    assert [r["shout"] for r in rows] == [masked(n).upper() for n in ROWS["name"]]
    assert [r["born"] for r in rows] == [None, None, None]  # not text: `mask_other` (nullify)
    assert [r["salary"] for r in rows] == [None, None, None]  # `secret`: hidden
    assert [r["city"] for r in rows] == ROWS["city"]  # untagged: clear


def test_clearance_and_the_own_domain_see_clear_values(tmp_path: Path) -> None:
    mesh, lakehouse = _mesh(tmp_path)
    for domain in ("care", "hr"):
        rows = _see(mesh, lakehouse, domain, "people")
        assert [r["name"] for r in rows] == ROWS["name"], domain
        assert [r["born"] for r in rows] == ROWS["born"], domain
    own = mesh.plans[("hr", "see_people")].steps[0].query
    assert own is not None and "masked" not in own.sql("spark")
    # `care` has `pii` but not `secret`: the salary stays hidden from it.
    assert [r["salary"] for r in _see(mesh, lakehouse, "care", "people")] == [None] * 3
    assert [r["salary"] for r in _see(mesh, lakehouse, "hr", "people")] == ROWS["salary"]


def test_propagated_tags_count_and_a_protecting_step_lifts_them(tmp_path: Path) -> None:
    mesh, lakehouse = _mesh(tmp_path)
    clear = _see(mesh, lakehouse, "care", "profiles")
    seen = _see(mesh, lakehouse, "ads", "profiles")
    loud = [n.upper() for n in ROWS["name"]]
    assert [r["loud_name"] for r in clear] == loud
    assert [r["loud_name"] for r in seen] == [masked(n) for n in loud]  # derived from PII
    # pseudonymize() made the token `pseudonymized`: not PII, the same for everyone.
    assert [r["token"] for r in seen] == [r["token"] for r in clear]
    assert all(len(str(r["token"])) == len(hashlib.sha256().hexdigest()) for r in seen)


def test_who_sees_what_of_a_product(tmp_path: Path) -> None:
    mesh, _ = _mesh(tmp_path)
    contract = contract_of(mesh.products[("hr", "people")])
    domains = [
        DomainSpec(name="hr", team="hr"),
        DomainSpec(name="ads", team="ads"),
        DomainSpec(name="care", team="care", clearances=("pii",)),
    ]
    seen = who_sees(contract, domains)
    actions = {d: {c.column: c.action for c in a.columns} for d, a in seen.items()}
    assert actions["hr"] == dict.fromkeys(ROWS, "clear")
    assert actions["ads"] == {
        "id": "clear",
        "name": "masked",
        "born": "masked",
        "city": "clear",
        "salary": "hidden",
    }
    assert actions["care"]["name"] == "clear" and actions["care"]["salary"] == "hidden"
    name = next(c for c in seen["ads"].columns if c.column == "name")
    assert name.step is not None and name.step.use == "redact"
    assert name.because == "tag 'pii': clear for clearance 'pii'"
    born = next(c for c in seen["ads"].columns if c.column == "born")
    assert born.step is not None and born.step.use == "nullify"


def test_a_product_the_policy_hides_is_refused_when_the_consumer_loads(tmp_path: Path) -> None:
    probe = (
        "name: see\ndescription: x\ninputs: {p: hr.payroll}\nsteps:\n  - sql: SELECT id FROM p\n"
    )
    write_mesh(tmp_path, {"hr": {"people": PEOPLE, "payroll": RESTRICTED}, "ads": {"see": probe}})
    (error,) = refused(tmp_path).value.errors
    assert "input 'p' reads hr.payroll, which the access policy does not let the ads" in str(error)
    assert "tag 'sensitivity=restricted'" in str(error)
    assert error.file == tmp_path / "domains/ads/products/see.yaml" and error.line == 3
    assert "mesh request-clearance ads CLEARANCE" in (error.fix or "")


def test_a_python_step_given_the_raw_inputs_is_refused_when_inputs_are_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ads_steps_access.py").write_text(
        "def both(frame, inputs):\n    return inputs['people'].collect()\n\n"
        "def one(frame):\n    return frame\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    probe = (
        "name: see\ndescription: x\ninputs: {people: REF}\nsteps:\n"
        "  - sql: SELECT id, name FROM people\n  - python: ads_steps_access:FN\n"
    )
    one = probe.replace("REF", "hr.people").replace("FN", "one")
    both = probe.replace("REF", "hr.people").replace("FN", "both")
    # A step that gets only the previous (masked) result is fine.
    load_mesh(write_mesh(tmp_path / "one", {"hr": {"people": PEOPLE}, "ads": {"see": one}}))
    write_mesh(tmp_path / "both", {"hr": {"people": PEOPLE}, "ads": {"see": both}})
    (error,) = refused(tmp_path / "both").value.errors
    assert "python step 'step_2' takes the inputs, but the access policy masks" in str(error)
    # The same step reading its own domain's product gets it in clear: fine.
    own = probe.replace("REF", "people").replace("FN", "both")
    load_mesh(write_mesh(tmp_path / "own", {"hr": {"people": PEOPLE, "see": own}}))


def test_a_policy_file_with_a_mistake_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("version: 2\ncolumns:\n  - tag: pii\n    others: blurred\n")
    with pytest.raises(SpecErrors) as caught:
        load_policy(path)
    (error,) = caught.value.errors
    assert error.file == path and error.line == 4 and "others" in str(error)
    path.write_text("version: 2\ncolumns:\n  - tag: pii\n    mask: {use: shuffle}\n")
    with pytest.raises(SpecError, match="'shuffle', which is not a standard step") as one:
        load_policy(path)
    assert one.value.line == 4


def test_a_product_rule_masks_every_column_and_the_strictest_rule_wins() -> None:
    policy = AccessPolicy.model_validate(
        {
            "version": 9,
            "columns": [{"tag": "pii", "clear_for": ["pii"], "others": "hidden"}],
            "products": [{"tag": "tier=gold", "clear_for": ["gold"], "others": "masked"}],
        }
    )
    columns = {"id": (), "name": ("pii",)}
    types = {"id": "bigint", "name": "string"}
    seen = access_for("hr", columns, "ads", (), {"tier": "gold"}, types, policy)
    assert [(c.column, c.action) for c in seen.columns] == [("id", "masked"), ("name", "hidden")]
    assert seen.columns[0].step is not None and seen.columns[0].step.use == "nullify"
    gold = access_for("hr", columns, "ads", ("gold",), {"tier": "gold"}, types, policy)
    assert [c.action for c in gold.columns] == ["clear", "hidden"]
    both = access_for("hr", columns, "ads", ("gold", "pii"), {"tier": "gold"}, types, policy)
    assert [c.action for c in both.columns] == ["clear", "clear"]
    assert access_for("hr", columns, "hr", (), {"tier": "gold"}, types, policy).masked() == {}


def test_every_read_of_a_masked_input_in_a_step_is_masked(tmp_path: Path) -> None:
    # Subqueries and WITH queries of the step, and a later step, read the masked input too.
    probe = """\
name: see_people
description: x
inputs: {people: hr.people}
steps:
  - name: firsts
    sql: |
      WITH named AS (SELECT id, name FROM people WHERE id IN (SELECT id FROM people))
      SELECT n.id, n.name, (SELECT max(name) FROM people) AS top FROM named n
  - sql: SELECT f.id, f.name, f.top, p.name AS again FROM firsts f JOIN people p ON p.id = f.id
"""
    write_mesh(tmp_path, {"hr": {"people": PEOPLE}, "ads": {"see_people": probe}})
    mesh = load_mesh(tmp_path)
    lakehouse = local_lakehouse(tmp_path)
    lakehouse.write(("hr", "people"), pl.DataFrame(ROWS).to_arrow())
    rows = _see(mesh, lakehouse, "ads", "people")
    names = [masked(n) for n in ROWS["name"]]
    assert [r["name"] for r in rows] == [r["again"] for r in rows] == names
    assert {r["top"] for r in rows} == {max(names)}
    assert [s.name for s in mesh.plans[("ads", "see_people")].steps] == ["firsts", "step_2"]

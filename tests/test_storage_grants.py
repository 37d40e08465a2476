"""`mesh grants --storage s3`: one IAM policy per domain, from the catalog's approved
subscriptions, checked by evaluating it with an independent IAM evaluator against the objects
a real Delta table has at the production layout (`<lake>/<domain>/<product>/...`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner, Result
from deltalake import write_deltalake

from mesh_platform.catalog import Catalog
from mesh_platform.cli import main
from tests.cli_mesh import ORDERS, CliMesh, cli_mesh
from tests.test_catalog import catalog_url  # noqa: F401  (the SQLite + PostgreSQL fixture)
from tests.test_grants import CUSTOMERS, subscribe

LAKE = "s3://acme-lake/mesh"
LANDING = "s3://acme-landing/exports"
READERS = ("books", "ads", "news", "audit", "crm")

# An independent IAM evaluator (the AWS policy evaluation logic, for identity policies) ----------


def _wildcard(pattern: str, value: str, *, case: bool) -> bool:
    """IAM's wildcard match: `*` any run of characters (`/` included), `?` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _applies(statement: Mapping[str, Any], action: str, resource: str, context: dict) -> bool:
    if "Action" in statement:
        hit = any(_wildcard(a, action, case=False) for a in _listed(statement["Action"]))
    else:
        hit = not any(_wildcard(a, action, case=False) for a in _listed(statement["NotAction"]))
    if "Resource" in statement:
        hit = hit and any(_wildcard(r, resource, case=True) for r in _listed(statement["Resource"]))
    else:
        hit = hit and not any(
            _wildcard(r, resource, case=True) for r in _listed(statement["NotResource"])
        )
    for operator, tests in statement.get("Condition", {}).items():
        assert operator in ("StringLike", "StringEquals"), f"evaluator lacks {operator}"
        for key, patterns in tests.items():
            if key not in context:
                return False  # a condition on a key the request lacks does not match
            value = context[key]
            hit = hit and any(
                _wildcard(p, value, case=True) if operator == "StringLike" else p == value
                for p in _listed(patterns)
            )
    return hit


def allowed(
    policy: Mapping[str, Any], action: str, resource: str, context: dict | None = None
) -> bool:
    """Explicit deny wins, then an allow, else the implicit deny."""
    assert policy["Version"] == "2012-10-17"
    verdict = False
    for statement in policy["Statement"]:
        if _applies(statement, action, resource, context or {}):
            if statement["Effect"] == "Deny":
                return False
            verdict = True
    return verdict


def test_the_evaluator_follows_the_iam_matching_rules() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/a?c/*"},
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/abc/x/*"},
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::b",
                "Condition": {"StringLike": {"s3:prefix": ["abc/*"]}},
            },
        ],
    }
    assert allowed(policy, "S3:GETOBJECT", "arn:aws:s3:::b/abc/deep/er")  # actions: any case
    assert not allowed(policy, "s3:GetObject", "arn:aws:s3:::b/ABC/1")  # resources: exact case
    assert not allowed(policy, "s3:GetObject", "arn:aws:s3:::b/abbc/1")  # `?` is one character
    assert not allowed(policy, "s3:GetObject", "arn:aws:s3:::b/abc/x/1")  # the deny wins
    assert not allowed(policy, "s3:PutObject", "arn:aws:s3:::b/abc/1")
    assert allowed(policy, "s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "abc/_delta_log/"})
    assert not allowed(policy, "s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "abd/"})
    assert not allowed(policy, "s3:ListBucket", "arn:aws:s3:::b")  # no prefix: the whole bucket


# The mesh and its policies -------------------------------------------------------------------


@pytest.fixture
def shop(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    catalog_url: str,  # noqa: F811
) -> Iterator[CliMesh]:
    """platform's customers and orders, five reader domains (one with its own product), and a
    real catalog (SQLite and PostgreSQL) holding a subscription in every state."""
    products: dict[str, dict[str, str]] = {
        "platform": {"orders": ORDERS, "customers": CUSTOMERS}
    } | {r: {} for r in READERS}
    products["books"]["totals"] = (
        "name: totals\ndescription: x\ninputs: {orders: platform.orders}\n"
        "steps:\n  - sql: SELECT id FROM orders\n"
    )
    with cli_mesh(tmp_path, products, monkeypatch) as mesh:
        catalog = Catalog(catalog_url)
        subscribe(catalog, "books", "platform.customers", "approve")
        subscribe(catalog, "ads", "platform.customers")  # requested
        subscribe(catalog, "news", "platform.customers", "deny")
        subscribe(catalog, "audit", "platform.customers", "approve", "revoke")
        subscribe(catalog, "crm", "platform.customers", "approve", columns=("id", "city"))
        subscribe(catalog, "books", "platform.orders", "approve")
        catalog.engine.dispose()
        monkeypatch.setenv("MESH_CATALOG_URL", catalog_url)
        monkeypatch.setenv("MESH_LAKE_ROOT", LAKE)
        monkeypatch.setenv("MESH_LANDING_ROOT", LANDING)
        yield mesh


def run(mesh: CliMesh, *args: str, **env: str) -> Result:
    """`mesh ARGS` on `mesh`, in the production profile's S3 lake (the fixture's roots)."""
    keep = {k: v for k, v in mesh.env.items() if not k.endswith("_ROOT")}
    return CliRunner().invoke(main, list(args), env=keep | env)


def policies(mesh: CliMesh, *args: str) -> dict[str, dict[str, Any]]:
    """`mesh grants --storage s3 --json ARGS`: domain -> its export."""
    result = run(mesh, "grants", "--storage", "s3", "--json", *args)
    assert result.exit_code == 0, result.output
    return {e["domain"]: e for e in json.loads(result.stdout)}


def delta_objects(tmp_path: Path, product: str) -> list[str]:
    """The object keys of a real Delta table of `domain.product` (two commits), as they lie
    under the lake root at the documented layout `<root>/<domain>/<product>/`."""
    folder = tmp_path / "layout" / product.replace(".", "/")
    data = pa.table({"id": [1, 2], "email": ["a@x", "b@x"]})
    write_deltalake(str(folder), data)
    write_deltalake(str(folder), data, mode="append")
    files = sorted(p.relative_to(tmp_path / "layout") for p in folder.rglob("*") if p.is_file())
    assert any(f.suffix == ".parquet" for f in files) and any("_delta_log" in str(f) for f in files)
    return [f"mesh/{f}" for f in files]


def arn(key: str, bucket: str = "acme-lake") -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def can(policy: dict[str, Any], action: str, keys: list[str], bucket: str = "acme-lake") -> bool:
    """Whether `action` is allowed on every key (and listing each key's folder)."""
    objects = all(allowed(policy, action, arn(k, bucket)) for k in keys)
    folders = {k.rsplit("/", 1)[0] + "/" for k in keys}
    listing = all(
        allowed(policy, "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": f})
        for f in folders
    )
    return objects and listing


def test_each_domain_reads_only_its_tables_and_its_approved_subscriptions(
    shop: CliMesh, tmp_path: Path
) -> None:
    found = policies(shop)
    assert sorted(found) == sorted(("platform", *READERS))
    customers = delta_objects(tmp_path, "platform.customers")
    orders = delta_objects(tmp_path, "platform.orders")
    totals = delta_objects(tmp_path, "books.totals")
    write = ("s3:PutObject", "s3:DeleteObject")
    # The owner reads and writes its tables, and a table it has not written yet.
    owner = found["platform"]["policy"]
    for action in ("s3:GetObject", *write):
        assert can(owner, action, customers + orders + ["mesh/platform/new/_delta_log/0.json"])
    assert not can(owner, "s3:GetObject", totals)  # no subscription to books' product
    # books: approved for both: reads them, writes neither; reads and writes its own table.
    books = found["books"]["policy"]
    assert can(books, "s3:GetObject", customers + orders)
    assert not any(can(books, a, customers + orders) for a in write)
    assert all(can(books, a, totals) for a in ("s3:GetObject", *write))
    # crm: approved for two columns: storage cannot split a file, the whole table is readable
    # (the scope is the platform's, on read), and said so.
    assert can(found["crm"]["policy"], "s3:GetObject", customers)
    assert any("scope id, city: enforced on read" in n for n in found["crm"]["notes"])
    assert not can(found["crm"]["policy"], "s3:GetObject", orders)
    # requested, denied, revoked: nothing of platform's tables, not even a listing.
    for domain in ("ads", "news", "audit"):
        policy = found[domain]["policy"]
        for action in ("s3:GetObject", "s3:ListBucket", *write):
            assert not any(can(policy, action, [key]) for key in customers + orders), domain
        assert can(policy, "s3:PutObject", [f"mesh/{domain}/mine/_delta_log/0.json"])
        assert not can(policy, "s3:GetObject", totals)


def test_a_table_prefix_grants_that_table_only_and_no_other_bucket(shop: CliMesh) -> None:
    books = policies(shop, "--domain", "books")["books"]["policy"]
    assert can(books, "s3:GetObject", ["mesh/platform/customers/part-0.parquet"])
    # A product whose name starts like a subscribed one, the domain's folder, the lake's root.
    for key in (
        "mesh/platform/customers_archive/part-0.parquet",
        "mesh/platform/part-0.parquet",
        "mesh/part-0.parquet",
        "mesh/booksx/totals/part-0.parquet",
    ):
        assert not allowed(books, "s3:GetObject", arn(key)), key
    assert not allowed(books, "s3:ListBucket", "arn:aws:s3:::acme-lake", {"s3:prefix": "mesh/"})
    assert not allowed(
        books, "s3:ListBucket", "arn:aws:s3:::acme-lake", {"s3:prefix": "mesh/platform/"}
    )
    assert not allowed(books, "s3:GetObject", "arn:aws:s3:::other-bucket/mesh/books/t/x")
    assert not allowed(books, "s3:PutBucketPolicy", "arn:aws:s3:::acme-lake")


def test_only_landing_domains_read_the_landing_files(shop: CliMesh) -> None:
    landing = ["exports/customers.parquet", "exports/orders.parquet"]
    found = policies(shop)
    assert can(found["platform"]["policy"], "s3:GetObject", landing, bucket="acme-landing")
    assert not can(found["platform"]["policy"], "s3:PutObject", landing, bucket="acme-landing")
    for domain in READERS:
        assert not can(found[domain]["policy"], "s3:GetObject", landing, bucket="acme-landing")
    # The platform team names another ingestion domain in the approvals file (as the load
    # check reads it): it reads the landing files too.
    approvals = shop.root / "subscriptions.yaml"
    kept = [ln for ln in approvals.read_text().splitlines() if not ln.startswith("landing:")]
    approvals.write_text("\n".join([*kept, "landing: [platform, crm]"]) + "\n")
    named = policies(shop)
    assert can(named["crm"]["policy"], "s3:GetObject", landing, bucket="acme-landing")
    assert not can(named["books"]["policy"], "s3:GetObject", landing, bucket="acme-landing")
    # --landing-domain names them for this command instead.
    only = policies(shop, "--landing-domain", "books")
    assert can(only["books"]["policy"], "s3:GetObject", landing, bucket="acme-landing")
    assert not can(only["platform"]["policy"], "s3:GetObject", landing, bucket="acme-landing")


def test_out_writes_one_policy_file_per_domain_and_the_text_explains(
    shop: CliMesh, tmp_path: Path
) -> None:
    out = tmp_path / "policies"
    exports = policies(shop, "--out", str(out))
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{d}.s3.json" for d in exports)
    assert json.loads((out / "books.s3.json").read_text()) == exports["books"]["policy"]
    result = run(shop, "grants", "--storage", "s3", "--domain", "ads")
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith("# ads (ads-team): s3 policy of its code location's storage role\n")
    assert "no access platform.customers: no approved subscription (subscription 2 is " in text
    assert "landing: none (it may not declare landing sources)" in text
    assert json.loads(text[text.index("{") :]) == exports["ads"]["policy"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--domain", "nope"], "no domain 'nope'; domains: ads, audit, books"),
        (["--landing-domain", "nope"], "--landing-domain nope: no such domain"),
        (["--lake-root", "/srv/lake"], "--lake-root is '/srv/lake', not an S3 location"),
        (["platform.customers"], "--storage prints a policy per domain, not per product"),
    ],
)
def test_clear_errors(shop: CliMesh, args: list[str], message: str) -> None:
    result = run(shop, "grants", "--storage", "s3", *args)
    assert result.exit_code in (1, 2), result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_local_lake_names_the_variable_and_the_fix(shop: CliMesh) -> None:
    result = shop.run("grants", "--storage", "s3")  # the embedded profile's lake: a folder
    assert result.exit_code == 1
    assert "Error: MESH_LAKE_ROOT is " in result.output and "not an S3 location" in result.output
    assert "Fix: set MESH_LAKE_ROOT and MESH_LANDING_ROOT" in result.output


def test_an_unreachable_catalog_is_one_clean_error(shop: CliMesh, tmp_path: Path) -> None:
    (tmp_path / "not_a_folder").write_text("")
    url = f"sqlite:///{tmp_path / 'not_a_folder' / 'catalog.db'}"
    result = run(shop, "grants", "--storage", "s3", MESH_CATALOG_URL=url)
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: the catalog database {url} is unavailable")
    assert "Traceback" not in result.output

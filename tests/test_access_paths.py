"""The access matrix, continued: every other path by which a domain could see what it may not.

tests/test_access_matrix.py checks the straight path (a consumer's SQL over the demo mesh's PII,
through a run, a preview and a product test). This file tries each other path issue 20 named,
as an attacker would: the domain `mx_plain` (no clearance) against `platform.customers`
(published, `name` and `phone` tagged `pii`), with `mx_cleared` (clearance `pii`) as the
domain that could launder values for it. Each path is a few files added to the same mesh and
the `mesh` commands the attacker runs; it ends either **refused** (the command fails with the
reason) or **masked** (only the policy's masked values come out).

Everything the attacker sees (the commands' output, its own tables, the Dagster metadata of
every materialization, the web catalog's pages) is scanned for every clear PII value of
`platform.customers`: one found is a leak. The summary line gives the paths, the checks and
the leaks (`pytest -s tests/test_access_paths.py`).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable

from mesh_platform.loader import mesh as loader_mesh
from mesh_platform.loader import planner_for
from mesh_platform.spec import workspace
from tests.cli_mesh import CliMesh, cli_mesh
from tests.fixtures_mesh import forget_domains
from tests.mini_mesh import grant_clearances, write_approvals

ATTACKER, LAUNDERER = "mx_plain", "mx_cleared"
CUSTOMERS = """\
name: customers
description: Customers, as the shop exports them.
visibility: published
source: {landing: customers}
columns:
  - {name: id, type: bigint}
  - {name: name, type: string, tags: [pii]}
  - {name: phone, type: string, tags: [pii]}
  - {name: segment, type: string}
"""
NAMES = ["Alice Marchetti", "Bogdan Wozniak", "Chiara Lindqvist", "Dmitri Okonkwo"]
PHONES = ["+33-612-404-101", "+48-501-777-202", "+39-347-888-303", "+7-916-555-4040"]
SECRETS = (*NAMES, *PHONES)
READER = """\
name: reader
description: Names and phones of the customers.
inputs: {c: platform.customers}
steps:
  - sql: SELECT id, name, phone FROM c
"""


def masked(value: str) -> str:
    """The policy's mask for text (`redact`, keep 1), computed independently."""
    return value[:1] + "***"


@dataclass
class Tally:
    """Paths tried, channels scanned, leaks found."""

    paths: list[str] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)  # path -> how it ended
    checks: int = 0
    leaks: list[str] = field(default_factory=list)

    def scan(self, path: str, channel: str, text: str) -> None:
        """One check: no clear PII value of the target in what `channel` showed."""
        self.checks += 1
        self.leaks += [f"{path}: {channel} shows {s!r}" for s in SECRETS if s in text]


TALLY = Tally()


@dataclass
class Attack:
    """The mesh with a path's files added; what the attacker ran, and saw."""

    mesh: CliMesh
    name: str
    seen: list[str] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.mesh.root

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def product(self, domain: str, name: str, text: str) -> None:
        self.write(f"domains/{domain}/products/{name}.yaml", text)

    def module(self, domain: str, name: str, body: str) -> str:
        """`domains.<domain>.<name>`, with the lake's and landing's paths at hand."""
        header = (
            "import polars as pl\n\n"
            f"LAKE = {str(self.mesh.home / 'lake')!r}\n"
            f"LANDING = {str(self.mesh.home / 'landing')!r}\n\n"
        )
        self.write(f"domains/{domain}/{name}.py", header + textwrap.dedent(body))
        return f"domains.{domain}.{name}"

    def approve(self) -> None:
        """Approve every cross-domain read declared (the paths not about subscriptions)."""
        write_approvals(self.root)

    def run(self, *args: str, ok: bool | None = None, attacker: bool = True) -> str:
        """`mesh ARGS`, as a new process would run it (nothing cached from the last command);
        its output (stdout and stderr) counts as seen by the attacker."""
        loader_mesh._load_cached.cache_clear()
        loader_mesh._specs_cached.cache_clear()
        planner_for.cache_clear()
        result = self.mesh.run(*args)
        text = result.output  # stdout and stderr, interleaved
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            text += f"\n{type(result.exception).__name__}: {result.exception}"
        if attacker:
            self.seen_by("`mesh " + " ".join(args) + "`", text)
        if ok is not None:
            assert (result.exit_code == 0) == ok, text
        return text

    def seen_by(self, channel: str, text: str) -> None:
        self.seen.append(channel)
        TALLY.scan(self.name, channel, text)

    def table(self, product: str) -> pl.DataFrame | None:
        """The attacker's own table (seen by it), if written."""
        path = self.mesh.lake(product)
        if not (path / "_delta_log").exists():
            return None
        frame = pl.read_delta(str(path))
        self.seen_by(f"table {product}", frame.write_csv())
        return frame

    def metadata(self) -> str:
        """Every materialization's metadata in the Dagster instance (anyone with the UI)."""
        with dg.DagsterInstance.from_config(str(self.mesh.home / "dagster")) as instance:
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(["platform", "customers"])), limit=5
            ).records
            keys = instance.get_asset_keys()
            texts = []
            for key in keys:
                event = instance.get_latest_materialization_event(key)
                if event is not None and event.asset_materialization is not None:
                    texts.append(str(event.asset_materialization.metadata))
            assert records and keys
        self.seen_by("Dagster metadata", "\n".join(texts))
        return "\n".join(texts)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """platform.customers materialized from its landing export, once; each path copies it."""
    root = tmp_path_factory.mktemp("access_paths")
    products = {"platform": {"customers": CUSTOMERS}, LAUNDERER: {}, ATTACKER: {}}
    with pytest.MonkeyPatch.context() as mp, cli_mesh(root, products, mp) as mesh:
        (root / "domains" / LAUNDERER / "domain.yaml").write_text(
            f"name: {LAUNDERER}\nteam: {LAUNDERER}-team\nclearances: [pii]\n"
        )
        grant_clearances(root, {LAUNDERER: ["pii"]})  # granted by the platform team
        segments = ["retail", "retail", "wholesale", "retail"]
        rows: dict[str, list[object]] = {"id": [1, 2, 3, 4], "name": [*NAMES]}
        mesh.land("customers", rows | {"phone": [*PHONES], "segment": [*segments]})
        done = mesh.run("materialize", "platform.customers")
        assert done.exit_code == 0, done.output
    yield root


@pytest.fixture
def attack(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Attack]:
    root = tmp_path / "mesh"
    shutil.copytree(built, root, symlinks=True)
    monkeypatch.setattr(workspace, "repo_root", lambda: root)
    monkeypatch.syspath_prepend(str(root))
    previous = forget_domains()
    found = Attack(CliMesh(root, root / "home"), request.node.name.removeprefix("test_"))
    TALLY.paths.append(found.name)
    try:
        yield found
    finally:
        forget_domains()
        sys.modules.update(previous)
    assert found.seen, "a path must scan what the attacker saw"
    assert not [leak for leak in TALLY.leaks if leak.startswith(f"{found.name}:")], TALLY.leaks


def customers_version(attack: Attack) -> int:
    return DeltaTable(str(attack.mesh.lake("platform.customers"))).version()


# --- 1. Python code cannot reach the lake -----------------------------------------------------

PYTHON_PRODUCT = """\
name: NAME
description: A Python step reaching past its inputs.
inputs: {c: platform.customers}
steps:
  - sql: SELECT id, segment FROM c
  - python: MODULE:step
"""


def python_attack(attack: Attack, body: str) -> str:
    """mx_plain's product whose Python step runs `body`; its run must be refused."""
    module = attack.module(ATTACKER, "steps", body)
    attack.product(
        ATTACKER, "sneaky", PYTHON_PRODUCT.replace("NAME", "sneaky").replace("MODULE", module)
    )
    attack.approve()
    before = customers_version(attack)
    out = attack.run("materialize", f"{ATTACKER}.sneaky", ok=False)
    assert attack.table(f"{ATTACKER}.sneaky") is None
    assert customers_version(attack) == before
    attack.metadata()
    return out


def test_python_step_reads_the_lake(attack: Attack) -> None:
    out = python_attack(
        attack,
        """\
        def step(frame):
            read = getattr(pl, "read_" + "delta")
            return read(LAKE + "/platform/customers")
        """,
    )
    assert "cannot read the lake" in out


def test_python_step_reads_the_landing_files(attack: Attack) -> None:
    out = python_attack(
        attack,
        """\
        def step(frame):
            return pl.read_parquet(LANDING + "/customers.parquet")
        """,
    )
    assert "cannot read the lake" in out


def test_python_step_appends_to_a_foreign_table(attack: Attack) -> None:
    out = python_attack(
        attack,
        """\
        import importlib

        def step(frame):
            writer = getattr(importlib.import_module("deltalake"), "write_" + "deltalake")
            writer(LAKE + "/platform/customers", frame.collect().to_arrow(), mode="append")
            return frame
        """,
    )
    assert "cannot read the lake" in out or "may not write" in out, out


def test_python_step_calls_the_network(attack: Attack) -> None:
    out = python_attack(
        attack,
        """\
        import socket

        def step(frame):
            socket.create_connection(("127.0.0.1", 5432), timeout=2)
            return frame
        """,
    )
    assert "network" in out


MODULE_PRODUCT = """\
from mesh_platform import ProductSpec, SqlStep

seen = pl.read_delta(LAKE + "/platform/customers")["name"].to_list()
product = ProductSpec(
    domain="mx_plain",
    name="peek",
    description=f"Customers: {seen}",
    steps=(SqlStep(sql="SELECT 1 AS one"),),
)
"""


def test_python_product_module_reads_the_lake_at_import(attack: Attack) -> None:
    attack.write(f"domains/{ATTACKER}/products/__init__.py", "")
    attack.module(ATTACKER, "products/peek", MODULE_PRODUCT)
    out = attack.run("validate", ok=False)
    assert "peek.py" in out
    attack.run("list")
    attack.run("materialize", f"{ATTACKER}.peek", ok=False)


def test_step_module_reads_the_lake_at_import(attack: Attack) -> None:
    module = attack.module(
        ATTACKER,
        "peeking_steps",
        """\
        SEEN = getattr(pl, "read_" + "delta")(LAKE + "/platform/customers")["name"].to_list()

        def step(frame):
            raise ValueError(f"seen: {SEEN}")
        """,
    )
    attack.product(
        ATTACKER, "sneaky", PYTHON_PRODUCT.replace("NAME", "sneaky").replace("MODULE", module)
    )
    attack.approve()
    out = attack.run("validate", ok=False)
    assert "peeking_steps" in out
    attack.run("materialize", f"{ATTACKER}.sneaky", ok=False)


def test_template_hook_reads_the_lake(attack: Attack) -> None:
    hooks = attack.module(
        ATTACKER,
        "hooks",
        """\
        def hook(event, spec, facts):
            seen = pl.read_delta(LAKE + "/platform/customers")["name"].to_list()
            raise ValueError(f"seen: {seen}")
        """,
    )
    domain = attack.root / "domains" / ATTACKER / "domain.yaml"
    domain.write_text(domain.read_text() + f"template_hooks: ['{hooks}:hook']\n")
    attack.product(ATTACKER, "reader", READER)
    attack.approve()
    out = attack.run("materialize", f"{ATTACKER}.reader", ok=False)
    assert "hook" in out
    attack.metadata()


SQL_FILE_READS = {
    "read_parquet of the landing file": "SELECT * FROM read_parquet('LANDING/customers.parquet')",
    "delta_scan of the table": "SELECT * FROM delta_scan('LAKE/platform/customers')",
    "a quoted path as a table": "SELECT * FROM 'LANDING/customers.parquet'",
    "read_csv_auto of a log file": "SELECT * FROM read_csv_auto('LAKE/platform/customers/"
    "_delta_log/00000000000000000000.json')",
    "a DuckDB table function": "SELECT name, value FROM duckdb_settings()",
    "the keys through getvariable": "SELECT id, getvariable('mesh_key') AS k FROM c",
}


@pytest.mark.parametrize("how", sorted(SQL_FILE_READS))
def test_sql_step_reads_files_itself(attack: Attack, how: str) -> None:
    sql = SQL_FILE_READS[how].replace("LAKE", str(attack.mesh.home / "lake"))
    sql = sql.replace("LANDING", str(attack.mesh.home / "landing"))
    attack.product(
        ATTACKER,
        "files",
        f"""\
        name: files
        description: Reading files by path.
        inputs: {{c: platform.customers}}
        steps:
          - sql: "{sql}"
        """,
    )
    attack.approve()
    out = attack.run("validate", ok=False)
    assert "files.yaml" in out, out
    attack.run("preview", f"{ATTACKER}.files", ok=False)
    attack.run("materialize", f"{ATTACKER}.files", ok=False)
    assert attack.table(f"{ATTACKER}.files") is None


# --- 2. Tags follow values: laundering through a cleared domain -------------------------------

RELAY = """\
name: relay
description: mx_cleared republishes what it reads of the customers.
visibility: published
inputs: {c: platform.customers}
steps:
STEPS
columns:
  - {name: id, type: bigint, tags: ID_TAGS}
  - {name: label, type: string, tags: LABEL_TAGS}
"""
TAKE = """\
name: take
description: What mx_plain reads of mx_cleared's relay.
inputs: {r: mx_cleared.relay}
steps:
  - sql: SELECT * FROM r
"""
LAUNDERING = {
    "rename in SQL": "  - sql: SELECT id, name AS label FROM c",
    "rename step": "  - sql: SELECT id, name FROM c\n"
    "  - use: rename\n    with: {columns: {name: label}}",
    "Python rename": "  - sql: SELECT id, name FROM c\n  - python: MODULE:rename",
    "UNION branch": "  - sql: SELECT id, 'nobody' AS label FROM c WHERE id < 0 "
    "UNION ALL SELECT id, name AS label FROM c",
    "LATERAL VIEW explode": "  - sql: SELECT id, item AS label FROM c "
    "LATERAL VIEW explode(array(name, phone)) t AS item",
    "CASE": "  - sql: SELECT id, CASE WHEN id > 0 THEN name ELSE 'x' END AS label FROM c",
    "window": "  - sql: SELECT id, first_value(name) OVER (PARTITION BY id ORDER BY id) AS label "
    "FROM c",
    "scalar subquery": "  - sql: SELECT c.id, (SELECT max(d.name) FROM c AS d WHERE d.id = c.id) "
    "AS label FROM c",
    "to_json": "  - sql: SELECT id, to_json(named_struct('n', name)) AS label FROM c",
    "collect_list": "  - sql: SELECT min(id) AS id, concat_ws(',', collect_list(name)) AS label "
    "FROM c GROUP BY segment",
    "mask_partial keeping everything": "  - sql: SELECT id, mask_partial(name, 200) AS label "
    "FROM c",
    "redact keeping everything": "  - sql: SELECT id, name AS label FROM c\n"
    "  - use: redact\n    with: {columns: [label], keep: 100}",
    "mask_email of a non-email": "  - sql: SELECT id, mask_email(name) AS label FROM c",
    "encrypt_det then decrypt_det": "  - sql: SELECT id, decrypt_det(encrypt_det(name)) AS label "
    "FROM c",
}


def declare_what_validate_asks(attack: Attack, relay: str) -> str:
    """Write the relay, declaring the tags (and the product tag) `mesh validate` asks for, as
    a launderer would; return the last `mesh validate` output."""
    tags: dict[str, list[str]] = {"id": [], "label": []}
    product_tags = ""
    for _ in range(4):
        text = relay + product_tags
        for column, declared in tags.items():
            text = text.replace(f"{column.upper()}_TAGS", f"[{', '.join(declared)}]")
        attack.product(LAUNDERER, "relay", text)
        attack.approve()
        checked = attack.run("validate")
        derived = re.search(r"published column '(\w+)' is (\w+) .* does not say so", checked)
        if derived and derived.group(2) not in tags[derived.group(1)]:
            tags[derived.group(1)].append(derived.group(2))
        elif "tags: {decrypt: authorized}" in checked and not product_tags:
            product_tags = "tags: {decrypt: authorized}\n"
        else:
            return checked
    return checked


@pytest.mark.parametrize("how", sorted(LAUNDERING))
def test_laundering_through_a_cleared_domain(attack: Attack, how: str) -> None:
    """mx_cleared republishes the names through `how`: mx_plain reads them masked, or the
    relay is refused at validate (with the reason); never in clear."""
    module = attack.module(
        LAUNDERER,
        "steps",
        """\
        def rename(frame):
            return frame.rename({"name": "label"})
        """,
    )
    relay = RELAY.replace("STEPS", LAUNDERING[how]).replace("MODULE", module)
    attack.product(ATTACKER, "take", TAKE)
    attack.approve()
    checked = declare_what_validate_asks(attack, relay)
    if "error" in checked.lower():  # refused at validate, for what it does with PII
        assert "relay.yaml" in checked and any(
            word in checked for word in ("pii", "decrypt", "mask")
        ), checked
        TALLY.outcomes[attack.name] = "refused at validate: " + checked.splitlines()[1][-160:]
        return
    attack.run("materialize", f"{LAUNDERER}.relay", ok=True, attacker=False)
    attack.run("preview", f"{ATTACKER}.take")
    attack.run("materialize", f"{ATTACKER}.take", ok=True)
    attack.metadata()
    frame = attack.table(f"{ATTACKER}.take")
    assert frame is not None and frame.height > 0
    assert all(value is None or value.endswith("***") for value in frame["label"]), frame
    TALLY.outcomes[attack.name] = f"masked: {frame['label'].to_list()[:2]}"


# --- 3. Rules and pages; 4. landing --------------------------------------------------------


def test_references_rule_as_an_oracle(attack: Attack) -> None:
    """mx_plain guesses names and checks which exist with a `references` rule."""
    attack.product(
        ATTACKER,
        "guesses",
        f"""\
        name: guesses
        description: Names guessed, checked against the customers.
        inputs: {{c: platform.customers}}
        steps:
          - sql: >
              SELECT guess FROM (VALUES ('{NAMES[0]}'), ('Nobody Atall'), ('{NAMES[2]}'))
              AS t(guess) WHERE (SELECT count(*) FROM c) > 0
        quality:
          - {{rule: references, column: guess, product: c, ref_column: name}}
        """,
    )
    attack.approve()
    checked = attack.run("validate")
    if "error" in checked.lower():
        assert "guesses.yaml" in checked and "references" in checked, checked
        return
    attack.run("materialize", f"{ATTACKER}.guesses")
    shown = attack.run("show", f"{ATTACKER}.guesses")
    # The guesses are mx_plain's own values; what must not come out is which of them exist.
    assert "Nobody Atall" in shown or "failing" in shown.lower() or "2" in shown
    attack.metadata()


def test_decrypt_det_in_a_quality_rule(attack: Attack) -> None:
    attack.product(
        LAUNDERER,
        "tokens",
        """\
        name: tokens
        description: Encrypted names.
        visibility: published
        inputs: {c: platform.customers}
        steps:
          - sql: SELECT id, encrypt_det(name) AS token FROM c
        columns:
          - {name: id, type: bigint}
          - {name: token, type: string, tags: [encrypted]}
        quality:
          - {rule: sql, name: peek, sql: "SELECT decrypt_det(token) AS clear FROM self"}
        """,
    )
    attack.approve()
    out = attack.run("validate", ok=False)
    assert "decrypt_det" in out


def test_pages_show_what_a_reader_without_clearance_sees(
    attack: Attack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The web catalog's product, contract and impact pages of the PII product."""
    from starlette.testclient import TestClient

    from mesh_platform.config.environment import catalog_url
    from mesh_platform.web.app import create_app
    from mesh_platform.web.source import WebSettings

    attack.product(ATTACKER, "reader", READER)
    attack.approve()
    attack.run("materialize", f"{ATTACKER}.reader", ok=True)
    attack.run("show", "platform.customers")
    attack.run("quality", "platform.customers")
    attack.run("impact", "platform.customers")
    monkeypatch.setenv("MESH_HOME", str(attack.mesh.home))
    app = create_app(WebSettings(attack.root, catalog_url(), "http://127.0.0.1:3000"))
    with TestClient(app) as client:
        for page in ("", "/impact", "/contract", "/odcs.yaml"):
            answer = client.get(f"/products/platform/customers{page}")
            assert answer.status_code == 200, (page, answer.text[:500])
            attack.seen_by(f"web page /products/platform/customers{page}", answer.text)


def test_landing_source_in_a_domain(attack: Attack) -> None:
    attack.product(
        ATTACKER,
        "raw",
        """\
        name: raw
        description: The raw export, read directly.
        source: {landing: customers}
        columns:
          - {name: id, type: bigint}
          - {name: name, type: string}
          - {name: phone, type: string}
        """,
    )
    out = attack.run("validate", ok=False)
    assert "raw.yaml" in out and "landing" in out
    attack.run("preview", f"{ATTACKER}.raw", ok=False)
    attack.run("materialize", f"{ATTACKER}.raw", ok=False)
    assert attack.table(f"{ATTACKER}.raw") is None


# --- 5. One subscription rule; 6. errors and cycles -----------------------------------------


def test_preview_without_an_approved_subscription(attack: Attack) -> None:
    attack.product(ATTACKER, "reader", READER)
    (attack.root / "subscriptions.yaml").write_text("approved: []\n")
    out = attack.run("preview", f"{ATTACKER}.reader", ok=False)
    assert "no subscription" in out
    attack.run("materialize", f"{ATTACKER}.reader", ok=False)
    assert attack.table(f"{ATTACKER}.reader") is None


def test_an_approved_reader_sees_masked_values(attack: Attack) -> None:
    """The straight path, for comparison: approved, mx_plain reads masked values only."""
    attack.product(ATTACKER, "reader", READER)
    attack.approve()
    attack.run("preview", f"{ATTACKER}.reader", ok=True)
    attack.run("materialize", f"{ATTACKER}.reader", ok=True)
    frame = attack.table(f"{ATTACKER}.reader")
    assert frame is not None
    assert sorted(frame["name"]) == sorted(masked(n) for n in NAMES)
    assert sorted(frame["phone"]) == sorted(masked(p) for p in PHONES)
    assert masked(NAMES[0]) in attack.metadata()  # the samples are there, masked


def test_the_scanner_finds_clear_values(built: Path) -> None:
    """The detector itself: the owner's table holds every clear value, and the scan sees them."""
    tally = Tally()
    owned = pl.read_delta(str(built / "home" / "lake" / "platform" / "customers"))
    tally.scan("owner", "table", owned.write_csv())
    assert len(tally.leaks) == len(SECRETS) and tally.checks == 1


def test_columns_outside_the_subscription_scope(attack: Attack) -> None:
    """mx_plain is approved for `id, segment` only: its SQL naming `name` is refused, and
    `SELECT *` reads only the scoped columns."""
    (attack.root / "subscriptions.yaml").write_text("approved: []\n")
    asked = attack.run(
        "subscribe",
        "platform.customers",
        "--as",
        ATTACKER,
        "--purpose",
        "segments",
        "--columns",
        "id,segment",
        "--json",
        ok=True,
    )
    ident = json.loads(asked[asked.index("{") :])["id"]
    attack.run("approve", str(ident), "--by", "lead", "--reason", "ok", ok=True, attacker=False)
    attack.product(ATTACKER, "reader", READER)
    out = attack.run("validate", ok=False)
    assert ("name" in out and "scope" in out.lower()) or "--columns" in out, out
    attack.run("preview", f"{ATTACKER}.reader", ok=False)
    out = attack.run("materialize", f"{ATTACKER}.reader", ok=False)
    assert "fix:   nothing was read or written; mesh subscribe platform.customers" in out, out
    attack.product(ATTACKER, "reader", READER.replace("id, name, phone", "*"))
    attack.run("preview", f"{ATTACKER}.reader")
    attack.run("materialize", f"{ATTACKER}.reader")
    frame = attack.table(f"{ATTACKER}.reader")
    assert frame is None or set(frame.columns) <= {"id", "segment"}, frame


def test_an_engine_error_in_preview(attack: Attack) -> None:
    attack.product(
        ATTACKER,
        "decode",
        """\
        name: decode
        description: Decoding masked names.
        inputs: {c: platform.customers}
        steps:
          - sql: SELECT id, CAST(unbase64(name) AS STRING) AS decoded FROM c
        """,
    )
    attack.approve()
    out = attack.run("preview", f"{ATTACKER}.decode", ok=False)
    assert "Traceback" not in out and "step" in out, out


def test_a_cycle_across_domains(attack: Attack) -> None:
    attack.product(
        ATTACKER,
        "loop_a",
        """\
        name: loop_a
        description: One half of a cycle.
        visibility: published
        inputs: {b: mx_cleared.loop_b}
        steps:
          - sql: SELECT id FROM b
        """,
    )
    attack.product(
        LAUNDERER,
        "loop_b",
        """\
        name: loop_b
        description: The other half.
        visibility: published
        inputs: {a: mx_plain.loop_a, c: platform.customers}
        steps:
          - sql: SELECT a.id FROM a JOIN c ON a.id = c.id
        """,
    )
    attack.approve()
    out = attack.run("validate", ok=False)
    assert "loop_a" in out and "loop_b" in out and "Traceback" not in out
    out = attack.run("materialize", f"{ATTACKER}.loop_a", ok=False)
    assert "Traceback" not in out and "CycleError" not in out


def test_zz_the_paths_leak_nothing() -> None:
    """The summary: every path above ran (in this file's order) and none leaked."""
    print(
        f"\naccess paths: {len(TALLY.paths)} paths tried by {ATTACKER} (no clearance), "
        f"{TALLY.checks} checks of what it saw; leaks found: {len(TALLY.leaks)}"
    )
    for path, outcome in TALLY.outcomes.items():
        print(f"  {path}: {outcome}")
    assert TALLY.paths, "run the whole file: the summary counts its paths"
    assert not TALLY.leaks, TALLY.leaks

"""The builder's draft (mesh_platform/builder/draft.py): a product spec opened, edited and saved
changing only what was edited; its refusals (names and paths escaping the domain, a file
changed on disk, an unknown domain); schedules from the form; commits on a branch."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mesh_platform.builder.draft import Draft, token_of
from mesh_platform.builder.errors import DraftConflict, DraftNotFound, DraftRefused, GitRefused
from mesh_platform.builder.gitops import commit_on_branch
from mesh_platform.builder.schedule import next_runs, schedule_from_form
from mesh_platform.spec.workspace import repo_root
from mesh_platform.spec.yaml_source import read_yaml, to_plain
from tests.cli_mesh import CliMesh
from tests.fixtures_mesh import forget_domains

DEMO = repo_root()
DEMO_SPECS = sorted(DEMO.glob("domains/*/products/*.yaml"))


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def mesh(tmp_path: Path) -> Path:
    """A copy of the demo mesh's specs in its own git repository, everything committed."""
    root = tmp_path / "mesh"
    shutil.copytree(
        DEMO / "domains", root / "domains", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("workspace.yaml", "subscriptions.yaml"):
        shutil.copy(DEMO / name, root / name)
    shutil.copytree(DEMO / "governance", root / "governance")  # the clearances granted
    _git(root.parent, "init", "-q", "-b", "main", str(root))
    _git(root, "config", "user.email", "builder@example.com")
    _git(root, "config", "user.name", "Builder Test")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "the demo mesh")
    return root


@pytest.mark.parametrize("path", DEMO_SPECS, ids=lambda p: f"{p.parent.parent.name}.{p.stem}")
def test_every_demo_spec_opens_and_writes_back_byte_identical(path: Path) -> None:
    draft = Draft.open(DEMO, path.parent.parent.name, path.stem)
    assert draft.text().encode() == path.read_bytes()
    assert draft.token == token_of(path.read_text())


def test_every_demo_spec_saved_unchanged_is_byte_identical(mesh: Path) -> None:
    for path in sorted(mesh.glob("domains/*/products/*.yaml")):
        before = path.read_bytes()
        draft = Draft.open(mesh, path.parent.parent.name, path.stem)
        result = draft.save(expected_token=draft.token)
        assert path.read_bytes() == before, path
        assert result.diff == ""
    assert _git(mesh, "status", "--porcelain") == ""


def test_reordering_two_steps_and_changing_a_parameter_is_a_minimal_diff(mesh: Path) -> None:
    path = mesh / "domains/sales/products/returned_items_customers.yaml"
    lines = path.read_text().splitlines(keepends=True)
    sql = next(i for i, ln in enumerate(lines) if ln.startswith("  - sql:"))
    comment = next(i for i, ln in enumerate(lines) if ln.startswith("  # Contact details"))
    include_end = next(i for i, ln in enumerate(lines) if ln.startswith("columns:"))
    moved = lines[comment:include_end]
    moved = [ln.replace("encrypt: [c_phone, c_address]", "encrypt: [c_phone]") for ln in moved]
    expected = lines[:sql] + moved + lines[sql:comment] + lines[include_end:]

    draft = Draft.open(mesh, "sales", "returned_items_customers")
    draft.move_step(1, 0)
    step = draft.steps()[0]
    step["with"]["encrypt"] = ["c_phone"]
    draft.update_step(0, step)
    result = draft.save(expected_token=draft.token)

    assert path.read_text() == "".join(expected)
    changed = [
        ln
        for ln in result.diff.splitlines()
        if ln[:1] in "+-" and not ln.startswith(("+++", "---"))
    ]
    assert len(changed) == 2 * len(moved)  # the moved lines, out and in: nothing else
    git_diff = _git(mesh, "diff", "--numstat", "--", str(path)).split()
    assert git_diff[:2] == [str(len(moved)), str(len(moved))]


def test_validate_checks_the_draft_in_place_of_its_file_writing_nothing(mesh: Path) -> None:
    path = mesh / "domains/marketing/products/customer_segments.yaml"
    before = path.read_bytes()
    draft = Draft.open(mesh, "marketing", "customer_segments")
    assert draft.validate() == []
    draft.move_step(1, 0)  # a standard step cannot come first: `mesh validate` says so
    errors = draft.validate()
    assert path.read_bytes() == before
    assert [e.file for e in errors] == [path]
    assert "cannot be the first step" in errors[0].problem
    assert errors[0].line == 9  # the line of the step in the draft's text
    assert draft.text().splitlines()[8].startswith("  - use: sales_segmentation")


@pytest.fixture
def cli(mesh: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    """`mesh` pointed at the copy (as tests/cli_mesh.py does), its own home."""
    from mesh_platform.spec import workspace

    home = mesh / "home"
    (home / "dagster").mkdir(parents=True)
    (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setattr(workspace, "repo_root", lambda: mesh)
    monkeypatch.syspath_prepend(str(mesh))
    import sys

    previous = forget_domains()
    try:
        yield CliMesh(mesh, home)
    finally:
        forget_domains()
        sys.modules.update(previous)


EXPECTED_NEW = """\
name: segment_revenue
description: Net revenue per value segment of the sales segmentation.
visibility: published
inputs: {segments: customer_segments, revenue: sales.customer_revenue}
schedule: 30 7 * * *
steps:
  - sql: |
      SELECT s.value_segment, sum(r.revenue) AS revenue
      FROM segments s JOIN revenue r ON s.c_custkey = r.c_custkey
      GROUP BY s.value_segment
columns:
  - {name: value_segment, type: string, description: 'high, medium or low'}
  - {name: revenue, type: double, description: Net revenue of the segment}
quality:
  - {rule: not_null, column: value_segment}
"""


def test_a_new_product_saved_passes_mesh_validate(cli: CliMesh) -> None:
    draft = Draft.new(cli.root, "marketing", "segment_revenue", "Net revenue per value segment")
    draft.set("description", "Net revenue per value segment of the sales segmentation.")
    draft.set_input("segments", "customer_segments")
    draft.set_input("revenue", "sales.customer_revenue")
    draft.add_step(
        {
            "sql": "SELECT s.value_segment, sum(r.revenue) AS revenue\n"
            "FROM segments s JOIN revenue r ON s.c_custkey = r.c_custkey\n"
            "GROUP BY s.value_segment\n"
        }
    )
    draft.set_column("value_segment", type="string", description="high, medium or low")
    draft.set_column("revenue", type="double", description="Net revenue of the segment")
    draft.set_quality([{"rule": "not_null", "column": "value_segment"}])
    draft.set_schedule("daily", time="07:30")
    draft.set("visibility", "published")
    assert draft.validate() == []
    result = draft.save(expected_token="")

    assert result.errors == ()
    assert result.path.read_text() == EXPECTED_NEW
    assert result.diff.startswith("--- /dev/null\n+++ b/domains/marketing/products/segment_")
    validated = cli.run("validate", "--json")
    assert validated.exit_code == 0, validated.output
    assert '"ok": true' in validated.stdout
    again = Draft.open(cli.root, "marketing", "segment_revenue")
    assert again.token == result.token and again.text() == EXPECTED_NEW


# -- refusals (issue 16, item 7) ------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["../sales/products/x", "x/../../y", "/etc/passwd", "Upper", "a.b", "", "x.yaml"]
)
def test_names_escaping_the_domain_are_refused(mesh: Path, name: str) -> None:
    for make in (
        lambda: Draft.new(mesh, "marketing", name),
        lambda: Draft.open(mesh, "marketing", name),
        lambda: Draft.new(mesh, name, "fine_name"),
    ):
        with pytest.raises(DraftRefused, match="lowercase snake_case"):
            make()
    assert _git(mesh, "status", "--porcelain") == ""


def test_a_products_folder_leading_outside_the_domain_is_refused(mesh: Path) -> None:
    products = mesh / "domains/finance/products"
    shutil.rmtree(products)
    products.symlink_to(mesh / "domains/sales/products")
    with pytest.raises(DraftRefused, match="outside domain 'finance'"):
        Draft.new(mesh, "finance", "elsewhere")
    with pytest.raises(DraftRefused, match="outside domain 'finance'"):
        Draft.open(mesh, "finance", "pricing_summary")


def test_a_domain_that_does_not_exist_is_refused(mesh: Path) -> None:
    with pytest.raises(DraftNotFound, match="no domain 'logistics'"):
        Draft.new(mesh, "logistics", "shipments")
    assert not (mesh / "domains/logistics").exists()


def test_a_taken_name_and_a_python_product_are_refused(mesh: Path) -> None:
    with pytest.raises(DraftRefused, match="already has a product 'customer_segments'"):
        Draft.new(mesh, "marketing", "customer_segments")
    with pytest.raises(DraftRefused, match="already has a product 'nation_reach'"):
        Draft.new(mesh, "marketing", "nation_reach")  # a Python module's product
    with pytest.raises(DraftRefused, match="written in Python"):
        Draft.open(mesh, "marketing", "nation_reach")
    with pytest.raises(DraftNotFound, match="no product 'missing'"):
        Draft.open(mesh, "marketing", "missing")


def test_a_file_changed_on_disk_since_it_was_opened_is_not_overwritten(mesh: Path) -> None:
    path = mesh / "domains/sales/products/pricing_summary.yaml"
    draft = Draft.open(mesh, "sales", "pricing_summary")
    kept = Draft.from_text(mesh, "sales", "pricing_summary", draft.text(), draft.token)
    draft.set("description", "Mine")
    someone_else = path.read_text().replace("TPC-H Q1:", "TPC-H Q1 (theirs):")
    path.write_text(someone_else)
    with pytest.raises(DraftConflict, match="changed on disk since the draft was opened"):
        draft.save(expected_token=draft.token)
    with pytest.raises(DraftConflict):
        kept.save(expected_token=kept.token)
    assert path.read_text() == someone_else
    # reloaded, the edit is saved on top of their change
    reloaded = Draft.open(mesh, "sales", "pricing_summary")
    reloaded.set("version", "1.1.0")
    reloaded.save(expected_token=reloaded.token)
    assert "(theirs)" in path.read_text() and "version: 1.1.0" in path.read_text()


def test_a_new_product_created_meanwhile_is_not_overwritten(mesh: Path) -> None:
    draft = Draft.new(mesh, "sales", "fresh", "Mine")
    draft.path.write_text("name: fresh\ndescription: theirs\n")
    with pytest.raises(DraftConflict, match="was created since"):
        draft.save(expected_token="")
    assert draft.path.read_text() == "name: fresh\ndescription: theirs\n"


def test_edits_out_of_range_or_unknown_are_refused(mesh: Path) -> None:
    draft = Draft.open(mesh, "sales", "pricing_summary")
    for edit in (
        lambda: draft.move_step(3, 0),
        lambda: draft.remove_step(-1),
        lambda: draft.add_step({"sql": "SELECT 1", "use": "x"}),
        lambda: draft.set("name", "renamed"),
        lambda: draft.set_input("../x", "sales.a"),
        lambda: draft.set_input("x", "../../etc"),
    ):
        with pytest.raises(DraftRefused):
            edit()
    assert draft.text() == (mesh / "domains/sales/products/pricing_summary.yaml").read_text()


# -- the example test, schedules, git -------------------------------------------------------


def test_save_example_test_writes_the_product_test_file(mesh: Path) -> None:
    draft = Draft.open(mesh, "sales", "pricing_summary")
    rows_in = {"lineitem": [{"l_returnflag": "R", "l_quantity": 2}]}
    path = draft.save_example_test(rows_in, [{"l_returnflag": "R", "sum_qty": 2.0}])
    assert path == mesh / "domains/sales/tests/pricing_summary.yaml"
    old = (DEMO / "domains/sales/tests/pricing_summary.yaml").read_text()
    assert path.read_text().startswith(old)  # the existing cases untouched
    data = to_plain(read_yaml(path).data)
    assert data["cases"][-1]["inputs"] == rows_in
    assert data["cases"][-1]["expected"] == [{"l_returnflag": "R", "sum_qty": 2.0}]
    with pytest.raises(DraftRefused, match="no input port orders"):
        draft.save_example_test({"orders": []}, [])


@pytest.mark.parametrize(
    ("kind", "form", "cron"),
    [
        ("eager", {}, None),
        ("manual", {}, None),
        ("daily", {"time": "06:00"}, "0 6 * * *"),
        ("weekly", {"time": "23:15", "weekday": "fri"}, "15 23 * * 5"),
        ("monthly", {"time": "7:05", "day": 28}, "5 7 28 * *"),
    ],
)
def test_schedule_from_form(kind: str, form: dict, cron: str | None) -> None:
    assert schedule_from_form(kind, **form) == cron


@pytest.mark.parametrize(
    "form",
    [
        {"kind": "hourly"},
        {"kind": "daily", "time": "25:00"},
        {"kind": "weekly", "weekday": "someday"},
        {"kind": "monthly", "day": 31},
    ],
)
def test_a_bad_schedule_form_is_refused(form: dict) -> None:
    with pytest.raises(DraftRefused):
        schedule_from_form(**form)


def test_next_runs_of_a_schedule() -> None:
    after = datetime(2024, 2, 27, 10, 0, tzinfo=UTC)
    daily = [datetime(2024, 2, 28, 6, 0, tzinfo=UTC) + timedelta(days=i) for i in range(5)]
    assert next_runs("0 6 * * *", after=after) == daily  # 2024 is a leap year: Feb 29 runs
    weekly = next_runs(
        schedule_from_form("weekly", time="23:15", weekday="fri") or "", 3, after=after
    )
    assert weekly == [datetime(2024, 3, d, 23, 15, tzinfo=UTC) for d in (1, 8, 15)]
    assert len(next_runs("0 6 1 * *")) == 5


def test_the_schedule_form_sets_the_spec_fields(mesh: Path) -> None:
    draft = Draft.open(mesh, "marketing", "customer_segments")  # automation: eager
    draft.set_schedule("weekly", time="06:00", weekday="mon")
    values = to_plain(read_yaml(draft.path, draft.text()).data)
    assert values["schedule"] == "0 6 * * 1" and "automation" not in values
    draft.set_schedule("eager")
    assert draft.text() == draft.path.read_text()


def test_commit_on_a_new_branch_leaves_the_working_tree_alone(mesh: Path) -> None:
    draft = Draft.open(mesh, "sales", "pricing_summary")
    draft.set("version", "1.0.1")
    draft.save(expected_token=draft.token)
    other = mesh / "domains/sales/products/monthly_sales.yaml"
    other.write_text(other.read_text() + "# someone else's edit in progress\n")
    head = _git(mesh, "rev-parse", "HEAD")

    commit = commit_on_branch(mesh, [draft.path], "builder/pricing", "pricing_summary 1.0.1")

    assert _git(mesh, "rev-parse", "HEAD") == head  # the checked-out branch did not move
    assert _git(mesh, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    status = _git(mesh, "status", "--porcelain").splitlines()
    assert sorted(s[3:] for s in status) == [
        "domains/sales/products/monthly_sales.yaml",
        "domains/sales/products/pricing_summary.yaml",
    ]
    changed = _git(mesh, "diff", "--name-only", f"{head.strip()}..{commit}").split()
    assert changed == ["domains/sales/products/pricing_summary.yaml"]
    assert "version: 1.0.1" in _git(mesh, "show", f"{commit}:{changed[0]}")
    assert _git(mesh, "rev-parse", "builder/pricing").strip() == commit
    assert _git(mesh, "remote") == ""  # nothing to push to, and nothing pushed


def test_commit_refusals(mesh: Path) -> None:
    path = mesh / "domains/sales/products/pricing_summary.yaml"
    path.write_text(path.read_text() + "# edited\n")
    with pytest.raises(GitRefused, match="is checked out here"):
        commit_on_branch(mesh, [path], "main", "edit")
    with pytest.raises(GitRefused, match="outside domains/"):
        commit_on_branch(mesh, [mesh / "workspace.yaml"], "builder/x", "edit")
    with pytest.raises(GitRefused, match="check-ref-format"):
        commit_on_branch(mesh, [path], "bad..name", "edit")
    with pytest.raises(GitRefused, match="nothing to commit"):
        commit_on_branch(mesh, [mesh / "domains/sales/products/monthly_sales.yaml"], "b", "x")
    assert _git(mesh, "branch", "--list").split() == ["*", "main"]

"""The builder's pages over real HTTP, on a COPY of the demo mesh's spec files (the checkout's
`domains/` is never written): the page of an existing product carries its file's text; an edit
and a save write only that file, as a minimal change; and the refusals of issue 16 item 7: a
form from another site, a name or path escaping the domain, an unknown domain, a file changed
on disk since it was opened (409, with a reload offer)."""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from mesh_platform.spec.workspace import repo_root
from mesh_platform.web import CatalogServer, WebSettings

UI = "http://127.0.0.1:3999"
EDITED = "marketing/products/customer_segments.yaml"


@dataclass
class Site:
    root: Path
    client: httpx.Client

    def file(self, relative: str) -> Path:
        return self.root / "domains" / relative

    def tree(self) -> dict[str, str]:
        """Every file under the copy's root (to check nothing else was written)."""
        return {
            str(p.relative_to(self.root)): p.read_text(errors="replace")
            for p in sorted(self.root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and "home" not in p.parts
        }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("builder_web")
    source = repo_root()
    shutil.copytree(
        source / "domains", root / "domains", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("workspace.yaml", "subscriptions.yaml"):
        shutil.copy(source / name, root / name)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MESH_HOME", str(root / "home"))
        settings = WebSettings(mesh_root=root, catalog_url=f"sqlite:///{root / 'c.db'}", ui_url=UI)
        server = CatalogServer(settings, port=0).start()
        try:
            with httpx.Client(base_url=server.url, timeout=120) as client:
                yield Site(root, client)
        finally:
            server.stop()


def _state(page: str) -> dict[str, str]:
    """The draft's hidden fields of a builder page (or of its workspace)."""
    text = re.search(
        r'<textarea name="draft" id="draft-text" hidden>\n(.*?)</textarea>', page, re.S
    )
    token = re.search(r'name="token" id="draft-token" value="([0-9a-f]*)"', page)
    assert text and token, page[:2000]
    return {"draft": html.unescape(text.group(1)), "token": token.group(1), "new": "0"}


def test_the_page_of_a_product_carries_its_file_and_its_steps(site: Site) -> None:
    page = site.client.get("/build/marketing/customer_segments")
    assert page.status_code == 200, page.text
    state = _state(page.text)
    assert state["draft"] == site.file(EDITED).read_text()
    assert len(state["token"]) == 64
    steps = re.findall(r'<li class="node step kind-(\w+)" data-index="(\d)"', page.text)
    assert steps == [("sql", "0"), ("use", "1")]
    assert 'data-product="sales.customer_revenue"' in page.text  # the input node
    assert "/static/vendor/htmx-2.0.11/htmx.min.js" in page.text
    assert site.client.get("/static/vendor/htmx-2.0.11/htmx.min.js").status_code == 200
    assert site.client.get("/static/vendor/sortablejs-1.15.7/Sortable.min.js").status_code == 200


def test_catalog_pages_link_to_the_builder(site: Site) -> None:
    search = site.client.get("/search").text
    for domain in ("finance", "marketing", "platform", "sales"):
        assert f'href="/build/{domain}/new"' in search
    new = site.client.get("/build/marketing/new")
    assert new.status_code == 200 and 'action="/build/marketing/new"' in new.text
    product = site.client.get("/products/marketing/customer_segments").text
    assert 'id="edit-product" href="/build/marketing/customer_segments"' in product
    assert 'href="/build/marketing/new"' in product
    python = site.client.get("/products/marketing/nation_reach")  # a Python product
    assert 'id="edit-product"' not in python.text


def test_an_edit_and_a_save_write_only_that_file_as_a_minimal_change(site: Site) -> None:
    before = site.tree()
    state = _state(site.client.get("/build/marketing/customer_segments").text)
    moved = site.client.post(
        "/build/marketing/customer_segments/edit",
        data={**state, "op": "move_step", "index": "1", "to": "0"},
    )
    assert moved.status_code == 200, moved.text
    assert site.tree() == before, "an edit wrote a file"
    state = _state(moved.text)
    saved = site.client.post("/build/marketing/customer_segments/save", data=state)
    assert saved.status_code == 200, saved.text
    old, new = before[f"domains/{EDITED}"], site.file(EDITED).read_text()
    expected = yaml.safe_load(old)
    expected["steps"].reverse()
    assert yaml.safe_load(new) == expected
    changed = [f for f, text in site.tree().items() if before.get(f) != text]
    assert changed == [f"domains/{EDITED}"]
    assert 'id="draft-token"' in saved.text and 'hx-swap-oob="true"' in saved.text
    site.file(EDITED).write_text(old)  # as it was, for the other tests


def test_a_form_from_another_site_is_refused(site: Site) -> None:
    before = site.tree()
    state = _state(site.client.get("/build/marketing/customer_segments").text)
    state["draft"] = state["draft"].replace("Which sales region", "Hijacked: which sales region")
    for headers in ({"origin": "http://evil.example"}, {"sec-fetch-site": "cross-site"}):
        for path in ("save", "edit", "run", "commit", "example"):
            answer = site.client.post(
                f"/build/marketing/customer_segments/{path}",
                data={**state, "op": "move_step", "index": "0", "to": "1"},
                headers=headers,
            )
            assert answer.status_code == 403, (path, headers, answer.text)
            assert "another site" in answer.text
        created = site.client.post(
            "/build/marketing/new", data={"name": "evil", "description": "x"}, headers=headers
        )
        assert created.status_code == 403
    assert site.tree() == before


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/build/marketing/..%2F..%2Fevil/save", 400),
        ("/build/marketing/Evil/save", 400),
        ("/build/marketing/evil.yaml/save", 400),
        ("/build/nosuch/evil/save", 404),
        ("/build/..%2Fmarketing/evil/save", 404),
    ],
)
def test_names_and_paths_escaping_the_domain_are_refused(
    site: Site, path: str, status: int
) -> None:
    before = site.tree()
    draft = "name: evil\ndescription: x\nsteps:\n  - sql: SELECT 1 AS a\n"
    answer = site.client.post(path, data={"draft": draft, "token": "", "new": "1"})
    assert answer.status_code in (status, 400, 404), answer.text
    assert answer.status_code != 200
    assert site.tree() == before
    assert not list(site.root.parent.glob("**/evil.yaml"))


def test_a_new_product_with_a_bad_or_taken_name_is_refused(site: Site) -> None:
    before = site.tree()
    for name in ("../../evil", "Evil", "customer_segments", "a/b"):
        answer = site.client.post("/build/marketing/new", data={"name": name})
        assert answer.status_code in (400, 409), (name, answer.text)
        assert 'id="error"' in answer.text
    assert site.client.get("/build/nosuch/new").status_code == 404
    assert site.tree() == before


def test_a_file_changed_on_disk_since_opened_is_not_overwritten(site: Site) -> None:
    state = _state(site.client.get("/build/marketing/customer_segments").text)
    path = site.file(EDITED)
    original = path.read_text()
    changed = original.replace("visibility: published", "visibility: published  # by hand")
    path.write_text(changed)
    try:
        answer = site.client.post("/build/marketing/customer_segments/save", data=state)
        assert answer.status_code == 409, answer.text
        assert "changed on disk" in answer.text
        assert 'href="/build/marketing/customer_segments"' in answer.text  # the reload offer
        assert answer.headers["hx-retarget"] == "#messages"
        assert path.read_text() == changed
    finally:
        path.write_text(original)


def test_the_write_form_makes_a_product_incremental_as_its_spec_says(site: Site) -> None:
    """Issue 18 in the builder: write mode, keys and incremental by time from the form, saved
    as the same YAML fields a hand-written spec has; what cannot work shows `mesh validate`'s
    error."""
    page = site.client.get("/build/sales/daily_orders")
    assert 'id="writes-form"' in page.text and "incremental by" in page.text
    product = "sales/products/daily_orders.yaml"
    before = site.file(product).read_text()
    state = _state(page.text)
    wrong = site.client.post(
        "/build/sales/daily_orders/edit",
        data={**state, "op": "writes", "write": "merge", "incremental_column": "order_date"},
    )
    assert wrong.status_code == 200, wrong.text
    assert "`write: merge` needs `keys:`" in html.unescape(wrong.text)
    state = _state(wrong.text)
    done = site.client.post(
        "/build/sales/daily_orders/edit",
        data={
            **state,
            "op": "writes",
            "write": "merge",
            "keys": "order_date, priority",
            "incremental_column": "order_date",
            "lookback": "5 days",
        },
    )
    assert "`write: merge` needs" not in html.unescape(done.text)
    saved = site.client.post("/build/sales/daily_orders/save", data=_state(done.text))
    assert saved.status_code == 200, saved.text
    spec = yaml.safe_load(site.file(product).read_text())
    assert spec["write"] == "merge" and spec["keys"] == ["order_date", "priority"]
    assert spec["incremental"] == {"column": "order_date", "lookback": "5 days"}
    site.file(product).write_text(before)  # as it was, for the other tests

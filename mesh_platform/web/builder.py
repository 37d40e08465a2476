"""The visual builder in the web catalog: build or edit a product as a pipeline graph, see the
data after every step, set its contract and schedule, save it as its YAML file, run it.

The draft is the product's YAML text: it travels with every request in the page's hidden
`#draft-state` fields (with the token of the file as it was opened), so the server keeps no
state between requests and a reload from disk is one link. Every edit is a POST whose answer
is the page's workspace (htmx swaps it in); only `Save` writes, through `Draft.save`, which
refuses a file changed on disk since it was opened (409, with a reload offer).

The builder writes files: the catalog serves loopback only (`mesh up` binds it to 127.0.0.1)
and, as for access requests, a form posted from another site is refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from mesh_platform.catalog import CatalogUnavailable
from mesh_platform.errors import MeshError
from mesh_platform.web import builder_view as view
from mesh_platform.web.builder_edits import EDITS
from mesh_platform.web.builder_forms import fields_for, step_params
from mesh_platform.web.subscriptions import Site, _same_site

if TYPE_CHECKING:
    from mesh_platform.builder.draft import Draft

MAX_DRAFT = 200_000  # characters of a draft's YAML
PREFIX = "/build/{domain}/{product}"
Handler = Callable[[Request], Awaitable[Response]]


class BuilderPages:
    """The builder's request handlers, on the catalog of `app`."""

    def __init__(self, app: Site) -> None:
        self.app = app

    @property
    def root(self) -> Path:
        return Path(self.app.source.settings.mesh_root)

    def folder(self, domain: str) -> Path:
        """The domain's folder (its own step sequences join the palette)."""
        return self.root / "domains" / domain

    def routes(self) -> list[Route]:
        """The routes the builder answers."""
        post = ["POST"]
        parts = {
            "/edit": self.edit,
            "/node": self.node,
            "/block": self.block_form,
            "/check": self.check,
            "/save": self.save,
            "/example": self.example,
            "/commit": self.commit,
            "/run": self.run,
        }
        return [
            Route("/build/{domain}/new", self.new_form),
            Route("/build/{domain}/new", self.create, methods=post),
            Route("/build/runs/{run_id}", self._partial(self.run_status)),
            Route(PREFIX, self.open),
            *(Route(PREFIX + p, self._partial(h), methods=post) for p, h in parts.items()),
        ]

    def _partial(self, handler: Handler) -> Handler:
        """`handler`, its refusals answered as a message htmx puts in `#messages` (with the
        status: 400 refused, 403 another site, 404 unknown, 409 changed on disk)."""

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                response = self.app.render(
                    request,
                    "_builder_error.html",
                    status=exc.status_code,
                    status_code=exc.status_code,
                    detail=str(exc.detail),
                    domain=request.path_params.get("domain", ""),
                    name=request.path_params.get("product", ""),
                )
                response.headers["HX-Retarget"] = "#messages"
                response.headers["HX-Reswap"] = "innerHTML"
                return response

        return answer

    # --- pages ------------------------------------------------------------------------------

    def new_form(self, request: Request) -> Response:
        """The form of a new product's name and description in a domain."""
        domain = request.path_params["domain"]
        if not (self.root / "domains" / domain / "domain.yaml").is_file():
            raise HTTPException(404, f"no domain {domain!r} in this mesh (see `mesh list`)")
        return self.app.render(request, "builder_new.html", domain=domain, error="")

    async def create(self, request: Request) -> Response:
        """A new product's draft (nothing written until Save), on the builder page."""
        from mesh_platform.builder.draft import Draft

        domain = request.path_params["domain"]
        form = await _form(request)
        name, description = str(form.get("name", "")), str(form.get("description", ""))
        try:
            draft = Draft.new(self.root, domain, name, description)
        except MeshError as exc:
            return self.app.render(
                request, "builder_new.html", status=_status(exc), domain=domain, error=str(exc)
            )
        return self._page(request, draft, new=True)

    async def open(self, request: Request) -> Response:
        """The builder page of an existing product, opened from its file."""
        from mesh_platform.builder.draft import Draft

        domain, name = request.path_params["domain"], request.path_params["product"]
        draft = await _call(lambda: Draft.open(self.root, domain, name))
        return self._page(request, draft, new=False)

    def _page(self, request: Request, draft: Draft, new: bool) -> Response:
        context = self.workspace(draft, new=new, selected=None)
        return self.app.render(request, "builder.html", **context)

    # --- the workspace: every edit answers with it -----------------------------------------

    def workspace(self, draft: Draft, *, new: bool, selected: int | None) -> dict[str, Any]:
        """What `_builder_workspace.html` shows of `draft`."""
        from mesh_platform.builder.palette import palette

        spec = view.spec_of(draft.text())
        blocks = palette(self.folder(draft.domain))
        nodes = view.step_nodes(draft.steps())
        return {
            "domain": draft.domain,
            "name": draft.name,
            "product": f"{draft.domain}.{draft.name}",
            "draft_text": draft.text(),
            "token": draft.token,
            "new": new,
            "selected": selected if selected is not None else (len(nodes) - 1 if nodes else -1),
            "inputs": view.input_nodes(draft.domain, draft.inputs(), self._state(draft.domain)),
            "steps": nodes,
            "blocks": blocks,
            "kinds": sorted({b.kind for b in blocks}),
            "choices": view.input_choices(self.root, draft.domain),
            "spec": spec,
            "owners": view.owners_text(spec),
            "columns": view.contract_columns(spec),
            "quality": list(spec.get("quality") or ()),
            "rules": view.RULES,
            "schedule": self._schedule(spec),
            "kinds_of_schedule": view.SCHEDULE_KINDS,
            "weekdays": view.WEEKDAYS,
            "errors": view.validate(draft),
        }

    def _state(self, domain: str) -> Callable[[str], str]:
        from mesh_platform.builder.subscribing import input_state

        def state(product: str) -> str:
            try:
                return input_state(self.root, domain, product)
            except (MeshError, CatalogUnavailable) as exc:
                return f"unknown ({exc})"

        return state

    @staticmethod
    def _schedule(spec: dict[str, Any]) -> dict[str, Any]:
        from mesh_platform.builder.schedule import next_runs

        answers = view.schedule_form(spec)
        try:
            answers["next"] = next_runs(answers["cron"], 5) if answers["cron"] else []
        except (MeshError, ValueError) as exc:
            answers["next"], answers["error"] = [], str(exc)
        return answers

    async def edit(self, request: Request) -> Response:
        """Apply one edit (`op`) to the draft; answer with the workspace."""
        form = await _form(request)
        draft, new = self._draft(request, form)
        op = str(form.get("op", ""))
        if op not in EDITS:
            raise HTTPException(400, f"no edit {op!r}: one of {', '.join(sorted(EDITS))}")
        selected = await _call(lambda: EDITS[op](self, draft, form))
        return self._workspace(request, draft, new, selected)

    def _workspace(
        self, request: Request, draft: Draft, new: bool, selected: int | None = None
    ) -> Response:
        context = self.workspace(draft, new=new, selected=selected)
        return self.app.render(request, "_builder_workspace.html", **context)

    def _draft(self, request: Request, form: FormData) -> tuple[Draft, bool]:
        """The draft the request carries (its text and the token of the file when opened)."""
        from mesh_platform.builder.draft import Draft

        domain, name = request.path_params["domain"], request.path_params["product"]
        text, token = str(form.get("draft", "")), str(form.get("token", ""))
        if not text:
            raise HTTPException(400, "the draft's text is missing: reload the builder page")
        try:
            draft = Draft.from_text(self.root, domain, name, text, token)
        except MeshError as exc:
            raise HTTPException(_status(exc), str(exc)) from None
        return draft, form.get("new") == "1"

    # --- node panel, block forms, expression checks ----------------------------------------

    async def node(self, request: Request) -> Response:
        """A node's schema and sample rows, computed alone (and its badge, out of band)."""
        from mesh_platform.builder.preview import node_indexes, preview_node

        form = await _form(request)
        draft, _new = self._draft(request, form)
        index = view.as_int(form.get("index"), -1)

        def one() -> list[Any]:
            indexes = node_indexes(draft)
            found = index if index in indexes else indexes[-1] if indexes else None
            return [] if found is None else [preview_node(draft, found)]

        nodes = await _call(one)
        chosen = nodes[0] if nodes else None
        return self.app.render(
            request,
            "_builder_node.html",
            node=chosen,
            nodes=nodes,
            title=view.title(chosen, len(draft.steps())),
            domain=draft.domain,
        )

    async def block_form(self, request: Request) -> Response:
        """The parameter form of a palette block: to add a step, or to edit step `index`."""
        from mesh_platform.builder.palette import block

        form = await _form(request)
        draft, _new = self._draft(request, form)
        steps = draft.steps()
        index = view.as_int(form.get("index"), None)
        key = str(form.get("key", ""))
        values: dict[str, Any] = {}
        if index is not None and 0 <= index < len(steps):
            values = step_params(steps[index])
            if "sql" in steps[index] and not key:
                key, values = "transform:sql", {"sql": steps[index]["sql"]}
        found = await _call(lambda: block(key, self.folder(draft.domain)))
        before = index if index is not None else len(steps)
        folder = self.folder(draft.domain)
        previous, columns, inputs = await _call(
            lambda: view.available_columns(draft, before, folder)
        )
        fields = fields_for(found, columns, inputs, values)
        return self.app.render(
            request,
            "_builder_form.html",
            block=found,
            fields=fields,
            index=index,
            columns=columns,
            inputs=inputs,
            previous=previous,
            domain=draft.domain,
            name=draft.name,
        )

    async def check(self, request: Request) -> Response:
        """An expression checked as `mesh validate` would (as the user types)."""
        from mesh_platform.builder.transforms import check_expression

        form = await _form(request)
        columns = [c for c in str(form.get("columns", "")).split(",") if c]
        field = str(form.get("field", ""))
        text = str(form.get(field, "")).strip()
        domain = request.path_params["domain"]
        message = check_expression(text, columns, domain) if text else None
        ok = "expression ok" if text else ""
        return HTMLResponse(view.escape(message) if message else ok, status_code=200)

    # --- save, example test, commit, run -----------------------------------------------------

    async def save(self, request: Request) -> Response:
        """Write the file (validated, the diff against git shown); 409 if changed on disk."""
        form = await _form(request)
        draft, _new = self._draft(request, form)
        result = await _call(lambda: draft.save(expected_token=draft.token))
        return self.app.render(
            request,
            "_builder_saved.html",
            result=result,
            path=view.relative(result.path, self.root),
            domain=draft.domain,
            name=draft.name,
        )

    async def example(self, request: Request) -> Response:
        """Write the product test from the rows the preview shows (`mesh scaffold`'s file)."""
        form = await _form(request)
        draft, _new = self._draft(request, form)

        def write() -> Path:
            nodes = view.preview(draft)
            rows_in = {n.step: n.rows for n in nodes if n.index < 0}
            rows_out = nodes[-1].rows if nodes else []
            return draft.save_example_test(rows_in, rows_out)

        path = await _call(write)
        return view.message(
            f"wrote {view.relative(path, self.root)}: correct its rows, then `mesh test`"
        )

    async def commit(self, request: Request) -> Response:
        """Commit the saved file on a new branch (never pushed)."""
        from mesh_platform.builder.gitops import commit_on_branch

        form = await _form(request)
        draft, _new = self._draft(request, form)
        branch, message = str(form.get("branch", "")), str(form.get("message", ""))
        if not branch or not message:
            raise HTTPException(400, "fill in the branch and the message, then commit again")
        done = await _call(lambda: commit_on_branch(self.root, [draft.path], branch, message))
        return view.message(f"committed {done} on branch {branch} (not pushed)")

    async def run(self, request: Request) -> Response:
        """Materialize the saved product (and missing upstream) as a Dagster run."""
        from mesh_platform.builder.launch import launch

        await _form(request)
        product = f"{request.path_params['domain']}.{request.path_params['product']}"
        ui = self.app.source.settings.ui_url
        run_id = await _call(lambda: launch(self.root, product, ui))
        status = {"status": "STARTING", "url": f"{ui.rstrip('/')}/runs/{run_id}", "message": ""}
        return self.app.render(request, "_builder_run.html", run_id=run_id, run=status)

    async def run_status(self, request: Request) -> Response:
        """A run's status (polled by the page until it ends)."""
        from mesh_platform.builder.launch import run_status

        run_id = request.path_params["run_id"]
        ui = self.app.source.settings.ui_url
        status = await _call(lambda: run_status(ui, run_id))
        return self.app.render(request, "_builder_run.html", run_id=run_id, run=status)


# --- helpers ----------------------------------------------------------------------------------


async def _form(request: Request) -> FormData:
    """The posted form, refused when it comes from another site or is too large."""
    _same_site(request)
    form = await request.form()
    for key, value in form.multi_items():
        limit = MAX_DRAFT if key == "draft" else 20_000
        if isinstance(value, str) and len(value) > limit:
            raise HTTPException(413, f"the field {key!r} is longer than {limit} characters")
    return form


def _status(exc: BaseException) -> int:
    """The HTTP status of a builder refusal."""
    from mesh_platform.builder.errors import DraftConflict, DraftNotFound

    if isinstance(exc, DraftConflict):
        return 409
    if isinstance(exc, DraftNotFound):
        return 404
    return 400


async def _call(call: Callable[[], Any]) -> Any:
    """`call()` in a worker thread; a refusal is its status with the message."""
    try:
        return await run_in_threadpool(call)
    except CatalogUnavailable:
        raise
    except (MeshError, ValueError, KeyError) as exc:
        message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        raise HTTPException(_status(exc), message) from None

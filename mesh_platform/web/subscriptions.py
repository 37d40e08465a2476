"""Access on the web: request access to a product from its page, list the requests, approve,
deny or revoke them. The same operations as `mesh subscribe|approve|deny|revoke`
(`access/subscriptions.py`): each decision is taken once and recorded in the audit log.

Who acts (`acting`): behind an authenticating proxy (the prod profile, or
`MESH_IDENTITY_HEADER`), the person the proxy's header names (`X-Forwarded-Email`); otherwise
the catalog serves the machine it runs on (loopback) and takes the form's `by` field, else the
identity of who started it (git's user.email). With `governance/people.yaml`, decisions are
checked as on the CLI (`access/identity.py`): the deciding team's members only, never on one's
own request. A form posted from another site is refused: a page elsewhere must not be able to
make the browser approve a request here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mesh_platform.catalog import CatalogUnavailable
from mesh_platform.errors import MeshError
from mesh_platform.web.source import CatalogSource

DECISIONS = ("approve", "deny", "revoke")
MAX_FIELD = 2000


def _same_site(request: Request) -> None:
    """Refuse a form posted from a page of another site (the browser says where it was)."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    if site not in (None, "same-origin", "none") or (origin not in (None, "null", own)):
        raise HTTPException(403, "a form from another site cannot act on the catalog")


async def _form(request: Request) -> dict[str, Any]:
    _same_site(request)
    async with request.form() as form:
        values: dict[str, Any] = {
            key: str(value).strip()[:MAX_FIELD]
            for key, value in form.items()
            if isinstance(value, str)
        }
        values["columns"] = [str(c) for c in form.getlist("columns") if isinstance(c, str)]
    return values


def _required(form: dict[str, Any], *names: str) -> None:
    missing = [name for name in names if not form.get(name)]
    if missing:
        raise HTTPException(400, f"fill in {', '.join(missing)} and send the form again")


class Site(Protocol):
    """What these pages use of the catalog app (`app.CatalogApp`)."""

    source: CatalogSource

    def render(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> Response:
        """A page from a template."""
        ...

    def dagster_url(self, *path: str) -> str:
        """A product's asset in the Dagster UI."""
        ...


class SubscriptionPages:
    """The request handlers of access requests, on the catalog of `app`."""

    def __init__(self, app: Site) -> None:
        from mesh_platform.config import environment

        self.app = app
        self.header = environment.trusted_identity_header()
        self.local = environment.acting_email()
        templates = getattr(app, "templates", None)
        if templates is not None:  # every page shows who is acting
            templates.env.globals["acting_as"] = self.acting

    def acting(self, request: Request, named: str | None = None) -> str | None:
        """Who acts on `request`: the proxy's header when one is trusted (None without it),
        else `named` (the form's `by`), else who started the catalog."""
        if self.header:
            return (request.headers.get(self.header) or "").strip().lower() or None
        return named or self.local

    def _decider(self, request: Request, named: str | None) -> Any:
        """The person deciding, checked against the mesh's people (`access/identity.py`)."""
        from mesh_platform.access.identity import Decider, load_people

        person = self.acting(request, named)
        if self.header and named and person and named.lower() != person:
            raise HTTPException(400, f"by {named}: you are signed in as {person}")
        if person is None:
            raise HTTPException(401, "no identity: sign in through the proxy and try again")
        return Decider(person, load_people(self.app.source.settings.mesh_root))

    def routes(self) -> list[Route]:
        """The routes these pages answer."""
        return [
            Route("/products/{domain}/{product}/subscribe", self.request, methods=["POST"]),
            Route("/subscriptions", self.listing),
            Route("/subscriptions/{ident:int}", self.detail),
            Route("/subscriptions/{ident:int}/{decision}", self.decide, methods=["POST"]),
        ]

    async def request(self, request: Request) -> Response:
        """Ask for a domain's access to this product; then its subscription's page."""
        from mesh_platform.access.routing import request_and_decide

        product = f"{request.path_params['domain']}.{request.path_params['product']}"
        form = await _form(request)
        _required(form, "consumer", "purpose")
        catalog = self.app.source.catalog()
        done = await self._run(
            lambda: request_and_decide(  # decided at once when the access policy allows
                catalog,
                self.app.source.mesh(),
                form["consumer"],
                product,
                actor=self._requester(request, form),
                purpose=form["purpose"],
                columns=form["columns"],
            )
        )
        return RedirectResponse(f"/subscriptions/{done.subscription.id}", status_code=303)

    def _requester(self, request: Request, form: dict[str, Any]) -> str:
        """Who asks: the acting person in a mesh with people (or behind the proxy), else the
        form's `by` or the consumer domain (a development mesh, as on the CLI)."""
        from mesh_platform.access.identity import load_people

        if self.header or load_people(self.app.source.settings.mesh_root) is not None:
            return self._decider(request, form.get("by") or None).email  # type: ignore[no-any-return]
        return str(form.get("by") or form["consumer"])

    def listing(self, request: Request) -> Response:
        """Subscriptions, filtered by state, producer or consumer domain."""
        from mesh_platform.access import STATES, subscriptions

        filters = {
            name: request.query_params.get(name, "").strip() or None
            for name in ("state", "producer", "consumer")
        }
        rows = self._sync(
            lambda: subscriptions(
                self.app.source.catalog(),
                state=filters["state"],
                producer=filters["producer"],
                consumer=filters["consumer"],
            )
        )
        return self.app.render(
            request,
            "subscriptions.html",
            rows=rows,
            states=STATES,
            filters={k: v or "" for k, v in filters.items()},
        )

    def detail(self, request: Request) -> Response:
        """One subscription: its state, what was asked, its history, the decisions left."""
        from mesh_platform.access import subscription
        from mesh_platform.catalog import audit_entries

        catalog = self.app.source.catalog()
        row = self._sync(lambda: subscription(catalog, request.path_params["ident"]), 404)
        with catalog.session() as session:
            history = audit_entries(session, subject=row.subject)
        return self.app.render(
            request,
            "subscription.html",
            row=row,
            history=history,
            unchanged=bool(request.query_params.get("unchanged")),
            dagster_url=self.app.dagster_url(row.product),
        )

    async def decide(self, request: Request) -> Response:
        """Approve, deny or revoke (once); then the subscription's page."""
        from mesh_platform import access

        decision = request.path_params["decision"]
        if decision not in DECISIONS:
            raise HTTPException(404, f"no decision {decision!r}: one of {', '.join(DECISIONS)}")
        form = await _form(request)
        _required(form, "reason")
        ident = request.path_params["ident"]
        act = getattr(access, decision)
        catalog = self.app.source.catalog()
        person = self._decider(request, form.get("by") or None)

        def checked() -> Any:
            from mesh_platform.access.identity import check_subscription_decision, domain_specs

            if person.people is not None:
                row = access.subscription(catalog, ident)
                domains = domain_specs(self.app.source.settings.mesh_root)
                check_subscription_decision(person, row, decision, domains)
            return act(catalog, ident, actor=person.email, reason=form["reason"])

        done = await self._run(checked)
        # Decided so already (a second approver, a resent form): the page says nothing changed.
        note = "" if done.changed else "?unchanged=1"
        return RedirectResponse(f"/subscriptions/{ident}{note}", status_code=303)

    @staticmethod
    async def _run(call: Callable[[], Any]) -> Any:
        """`call()` in a worker thread (it writes the database); a refusal is a 400 page."""
        from starlette.concurrency import run_in_threadpool

        try:
            return await run_in_threadpool(call)
        except CatalogUnavailable:
            raise  # the 503 page: nothing was refused, the database is away
        except MeshError as exc:
            raise HTTPException(400, str(exc)) from None

    @staticmethod
    def _sync(call: Callable[[], Any], status: int = 400) -> Any:
        try:
            return call()
        except CatalogUnavailable:
            raise  # the 503 page
        except MeshError as exc:
            raise HTTPException(status, str(exc)) from None

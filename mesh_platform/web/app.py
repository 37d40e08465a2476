"""The web catalog's Starlette app: search, product pages, impact and ODCS documents.

Pages are rendered on the server from Jinja2 templates (no front-end build, nothing fetched
from elsewhere: the stylesheet is served from `static/`). Charts and the lineage graph are
inline SVG drawn in Python (`charts.py`, `lineage.py`). Every page links the product to its
asset in the Dagster UI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from mesh_platform.catalog import CatalogUnavailable
from mesh_platform.errors import MeshError
from mesh_platform.web.builder import BuilderPages
from mesh_platform.web.charts import pass_rate_chart
from mesh_platform.web.lineage import domain_colour, lineage_graph
from mesh_platform.web.source import CatalogSource, WebSettings
from mesh_platform.web.subscriptions import SubscriptionPages

if TYPE_CHECKING:
    from mesh_platform.marketplace.page import ProductPage
    from mesh_platform.marketplace.search import SearchHit

HERE = Path(__file__).parent
FILTERS = ("domain", "tag", "column", "owner")
SEARCH_LIMIT = 50


def product_href(name: str) -> str:
    """The catalog page of `domain.product`."""
    domain, _, product = name.partition(".")
    return f"/products/{domain}/{product}"


def mesh_domains(root: Path) -> list[str]:
    """The mesh's domains (the builder's "New product" offers one of them)."""
    from mesh_platform.spec.workspace import discover_domains

    return [folder.name for folder in discover_domains(root)]


def editable(root: Path, name: str) -> bool:
    """Whether the builder edits `domain.product`: a YAML spec (not a Python product)."""
    domain, _, product = name.partition(".")
    return (root / "domains" / domain / "products" / f"{product}.yaml").is_file()


class CatalogApp:
    """The request handlers over one `CatalogSource`."""

    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        self.source = CatalogSource(settings)
        self.templates = Jinja2Templates(directory=HERE / "templates")
        self.templates.env.globals.update(
            product_href=product_href,
            domain_colour=domain_colour,
            ui_url=settings.ui_url,
            mesh_domains=lambda: mesh_domains(settings.mesh_root),
            editable=lambda name: editable(settings.mesh_root, name),
        )
        self.templates.env.filters["fromjson"] = json.loads

    def dagster_url(self, *path: str) -> str:
        """The asset of `domain.product` (or of the key `domain`, `product`) in the Dagster UI."""
        if len(path) == 1:
            path = tuple(path[0].split("."))
        return f"{self.settings.ui_url.rstrip('/')}/assets/{'/'.join(path)}"

    def render(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> Response:
        return self.templates.TemplateResponse(request, template, context, status_code=status)

    def search(self, request: Request) -> Response:
        """The search form and, when asked, the ranked results with the parts of each score."""
        from mesh_platform.marketplace.search import search, unmatched

        words = request.query_params.get("q", "").strip()
        filters = {name: request.query_params.get(name, "").strip() or None for name in FILTERS}
        hits: list[SearchHit] = []
        missing = None
        asked = bool(words or any(filters.values()))
        if asked:
            catalog = self.source.catalog()
            missing = unmatched(catalog, words) if words else None
            hits = search(
                catalog,
                words,
                domain=filters["domain"],
                tag=filters["tag"],
                column=filters["column"],
                owner=filters["owner"],
                limit=SEARCH_LIMIT,
            )
        return self.render(
            request,
            "search.html",
            words=words,
            filters={k: v or "" for k, v in filters.items()},
            hits=hits,
            asked=asked,
            missing=missing,
        )

    def product(self, request: Request) -> Response:
        """A product's page: contract, freshness, quality chart, lineage graph, consumers."""
        from mesh_platform.access import subscriptions
        from mesh_platform.marketplace.page import product_page

        name = self._name(request)
        catalog = self.source.catalog()
        # The catalog as last synced: the source keeps it in step, not every request.
        page: ProductPage = self._found(name, lambda: product_page(catalog, None, name))
        requests = [r for r in subscriptions(catalog, producer=page.domain) if r.product == name]
        return self.render(
            request,
            "product.html",
            name=name,
            page=page,
            chart=pass_rate_chart(page.quality_series),
            graph=lineage_graph(name, page.upstream, page.downstream, product_href),
            dagster_url=self.dagster_url(*page.dagster_asset_path),
            rows=requests,
        )

    def impact(self, request: Request) -> Response:
        """Every product downstream of this one (or of one column), how and whose."""
        from mesh_platform.marketplace.impact import impact

        name = self._name(request)
        column = request.query_params.get("column", "").strip() or None
        mesh = self.source.mesh()
        report = self._found(name, lambda: impact(mesh, name, column=column).to_dict())
        return self.render(
            request,
            "impact.html",
            name=name,
            column=column or "",
            report=report,
            dagster_url=self.dagster_url(name),
        )

    def contract(self, request: Request) -> Response:
        """The product's ODCS document, on a page."""
        name = self._name(request)
        document = self._odcs(name)
        return self.render(
            request,
            "contract.html",
            name=name,
            document=document,
            dagster_url=self.dagster_url(name),
        )

    def contract_yaml(self, request: Request) -> Response:
        """The product's ODCS document as a YAML file."""
        name = self._name(request)
        return PlainTextResponse(self._odcs(name), media_type="application/yaml")

    def _odcs(self, name: str) -> str:
        from mesh_platform.marketplace.odcs import odcs_yaml

        mesh = self.source.mesh()
        return self._found(name, lambda: odcs_yaml(mesh, name))

    @staticmethod
    def _name(request: Request) -> str:
        return f"{request.path_params['domain']}.{request.path_params['product']}"

    @staticmethod
    def _found(name: str, build: Any) -> Any:
        """What `build()` returns; an unknown or hidden product is a 404 naming it."""
        try:
            return build()
        except KeyError as exc:
            raise HTTPException(404, f"no published product {name!r}: {exc.args[0]}") from None
        except CatalogUnavailable:
            raise  # the 503 page, not a missing product
        except MeshError as exc:
            raise HTTPException(404, str(exc)) from None

    async def error(self, request: Request, exc: Exception) -> Response:
        """The error page: what went wrong and what to do (404, 503 when the catalog database
        is unavailable, 500 for a bug, whose trace goes to the log)."""
        if isinstance(exc, HTTPException):
            status, detail = exc.status_code, str(exc.detail)
        elif isinstance(exc, CatalogUnavailable):
            status, detail = 503, str(exc)
        elif isinstance(exc, MeshError):
            status, detail = 500, str(exc)
        else:
            status, detail = 500, "internal error (the trace is in mesh up's log)"
        return self.render(request, "error.html", status=status, status_code=status, detail=detail)


def create_app(settings: WebSettings) -> Starlette:
    """The web catalog over the mesh and catalog database that `settings` name."""
    handlers = CatalogApp(settings)

    def root(request: Request) -> Response:
        return RedirectResponse("/search")

    def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes = [
        Route("/", root),
        Route("/healthz", health),
        Route("/search", handlers.search),
        Route("/products/{domain}/{product}", handlers.product),
        Route("/products/{domain}/{product}/impact", handlers.impact),
        Route("/products/{domain}/{product}/contract", handlers.contract),
        Route("/products/{domain}/{product}/odcs.yaml", handlers.contract_yaml),
        *SubscriptionPages(handlers).routes(),
        *BuilderPages(handlers).routes(),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    # Any other exception: Starlette logs its trace and answers with the same page.
    errors = {HTTPException: handlers.error, CatalogUnavailable: handlers.error}
    app = Starlette(routes=routes, exception_handlers={**errors, Exception: handlers.error})
    app.state.source = handlers.source
    return app

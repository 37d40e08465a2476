"""`mesh up`: the mesh as a local service (sample data, what is missing, then the UI and daemon,
and the web catalog beside them).

`dagster dev` runs as a child in its own process group (`dev_service`). This process announces
the UI only once it answers and, on Ctrl-C / SIGTERM, stops everything it started within 10 s:
the runs it had in flight end CANCELED. On start, runs whose process is gone are marked FAILED
(`inflight`), so nothing shows "In Progress" forever.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mesh_platform.cli.app import main, prepare_environment
from mesh_platform.cli.dev_service import DevLog, Stopper, dev_command
from mesh_platform.cli.run import generate, materialize_targets
from mesh_platform.errors import MeshError

if TYPE_CHECKING:
    from mesh_platform.cli.inflight import RunBook
    from mesh_platform.web.server import CatalogServer

POLL_SECONDS = 0.5
# While serving, the processes of dagster dev's tree are looked at this often (remembered, so
# that one whose parent died is still stopped with the rest).
TREE_SECONDS = 5.0
LOG_DRAIN_SECONDS = 2.0


@main.command()
@click.option("--scale", default=0.01, show_default=True, type=float, help="TPC-H scale factor.")
@click.option(
    "--no-materialize",
    is_flag=True,
    help="Just serve: no sample data, no materialization (automation refreshes what it must).",
)
@click.option(
    "--all", "everything", is_flag=True, help="Materialize every product, not only the missing."
)
@click.option("--headless", is_flag=True, help="Materialize and exit (no UI).")
@click.option("--host", default="127.0.0.1", show_default=True, help="UI host.")
@click.option("--port", default=3000, show_default=True, type=int, help="UI port.")
@click.option(
    "--catalog-port",
    type=int,
    help="The web catalog's port on 127.0.0.1 [default: the UI port + 1, or a free one if taken].",
)
@click.option("--no-catalog", is_flag=True, help="Do not serve the web catalog.")
@click.option(
    "--workspace",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Serve this Dagster workspace file instead of the checkout's (needs --no-materialize).",
)
@click.option("--verbose", is_flag=True, help="Show Dagster's info logs (default: warnings).")
@click.pass_context
def up(
    ctx: click.Context,
    scale: float,
    no_materialize: bool,
    everything: bool,
    headless: bool,
    host: str,
    port: int,
    catalog_port: int | None,
    no_catalog: bool,
    workspace: Path | None,
    verbose: bool,
) -> None:
    """Bring the mesh up: sample data, the products not yet materialized, then the Dagster UI.

    By default only products without a table are materialized (the first start builds them
    all); --all rebuilds every one, --no-materialize skips data and runs. The UI and the
    daemon (schedules, sensors, automation) run on HOST:PORT until Ctrl-C or SIGTERM, which
    stop every process they started. The web catalog (search, product pages, impact, ODCS
    documents) is served beside them on 127.0.0.1:CATALOG_PORT. With --headless, stop after
    materializing.
    """
    from mesh_platform.spec.workspace import repo_root

    if workspace is not None and not no_materialize:
        raise click.UsageError("--workspace serves another mesh: add --no-materialize")
    if headless and no_materialize:
        raise click.UsageError("--headless with --no-materialize would do nothing")
    prepare_environment()
    url = ui_url(host, port)
    if not headless:
        _check_port_free(host, port)
        # Links in alerts (the notifier of every location, runs here) point at this UI.
        os.environ["MESH_UI_URL"] = url
    served = (workspace or repo_root() / "workspace.yaml").resolve()
    _apply_approvals(served.parent)
    if not no_materialize:
        started = time.perf_counter()
        ctx.invoke(generate, scale=scale, force=False)
        built = _materialize(everything)
        click.echo(f"mesh up: {built} in {time.perf_counter() - started:.1f}s")
    if headless:
        return
    catalog = None if no_catalog else start_catalog(served.parent, url, port, catalog_port)
    code = serve(served, host, port, url, verbose, catalog)  # stops the catalog too
    if code:
        raise MeshError(f"dagster dev exited with status {code} (its log is above)")


def _apply_approvals(root: Path) -> None:
    """Record the platform team's approved cross-domain reads (`subscriptions.yaml`) before
    anything runs, so the mesh's own reads never wait for the approval sensor."""
    from mesh_platform.access import apply_approvals_file
    from mesh_platform.catalog import Catalog
    from mesh_platform.config.environment import catalog_url

    added = apply_approvals_file(Catalog.open(catalog_url()), root)
    if added:
        click.echo(f"recorded {added} approved subscriptions of {root / 'subscriptions.yaml'}")


def start_catalog(
    mesh_root: Path, ui: str, ui_port: int, catalog_port: int | None
) -> CatalogServer:
    """The web catalog of the mesh at `mesh_root` on 127.0.0.1, linking to the UI at `ui`.

    Without --catalog-port it takes the UI's port + 1, or any free port when that one is
    taken; a port asked for must be free. Assets link to it (`MESH_CATALOG_WEB_URL`, read by
    the code servers started after this).
    """
    from mesh_platform.config.environment import catalog_url
    from mesh_platform.web import CatalogServer, WebSettings

    host = "127.0.0.1"
    settings = WebSettings(mesh_root=mesh_root, catalog_url=catalog_url(), ui_url=ui)
    if catalog_port is None:
        preferred = ui_port + 1 if _is_free(host, ui_port + 1) else 0
        try:
            server = CatalogServer(settings, host=host, port=preferred).start()
        except MeshError:
            if preferred == 0:
                raise
            # taken between the probe and the bind (or by an outgoing connection): any free port
            server = CatalogServer(settings, host=host, port=0).start()
    elif not _is_free(host, catalog_port):
        raise MeshError(
            f"port {catalog_port} on {host} is already in use, so the web catalog cannot serve "
            f"there. Fix: choose another port with --catalog-port (or --no-catalog)"
        )
    else:
        server = CatalogServer(settings, host=host, port=catalog_port).start()
    os.environ["MESH_CATALOG_WEB_URL"] = server.url
    return server


def _is_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) != 0


def ui_url(host: str, port: int) -> str:
    """The address users and alert links reach the UI at (the machine's name for 0.0.0.0)."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    return f"http://{host}:{port}"


def _probe_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _check_port_free(host: str, port: int) -> None:
    with socket.socket() as probe:
        probe.settimeout(1)
        if probe.connect_ex((_probe_host(host), port)) == 0:
            raise MeshError(
                f"port {port} on {host} is already in use (another `mesh up`?). "
                f"Fix: stop it, or choose another port with --port"
            )


def missing_targets() -> list[str] | None:
    """What to materialize so that every product has a table: None for everything (none has
    one yet), else whole domains (none of their products has one) and single products, upstream
    first. Empty when nothing is missing. Products that spec errors break are left out (the
    materialization warns about them)."""
    from mesh_platform.cli.app import mesh_root
    from mesh_platform.config.environment import lake_root, landing_root
    from mesh_platform.lake.lakehouse import Lakehouse
    from mesh_platform.loader.mesh import Mesh

    mesh = Mesh.load_healthy(mesh_root())
    lake = Lakehouse(root=lake_root(), landing_root=landing_root())
    missing = {key for key in mesh.order if not lake.exists(key)}
    if len(missing) == len(mesh.order):
        return None
    targets: list[str] = []
    for domain in mesh.domain_order():
        keys = [source.spec.key for source in mesh.of_domain(domain)]
        if keys and all(key in missing for key in keys):
            targets.append(domain)
        else:
            targets.extend(".".join(key) for key in keys if key in missing)
    return targets


def _materialize(everything: bool) -> str:
    """Materialize what is missing (or everything); a failure is reported and the UI still
    comes up (it shows the failed runs). Returns what was done, for the summary line."""
    targets = None if everything else missing_targets()
    if targets == []:
        click.echo("every product has a table: nothing to materialize (--all rebuilds them)")
        return "nothing to materialize"
    if targets is not None:
        click.echo(f"materializing what has no table yet: {', '.join(targets)}")
    try:
        materialize_targets(targets, False)
    except SystemExit as exc:  # materialize_targets exits 1 after reporting what failed
        if exc.code not in (0, None):
            click.echo("some products FAILED (reported above); serving anyway", err=True)
            return "materialized, with failures"
    return "data and products ready"


def serve(
    workspace: Path,
    host: str,
    port: int,
    url: str,
    verbose: bool,
    catalog: CatalogServer | None = None,
) -> int:
    """Run `dagster dev` until it exits or this process gets SIGINT / SIGTERM; returns its exit
    status (0 when stopped by a signal). Every process it started, and the catalog, are gone
    on return. Once the UI answers, the web catalog (if any) is announced beside it."""
    from mesh_platform.config.environment import mesh_home

    stopper = Stopper(None)
    # Handlers of our own (not SIG_IGN), installed before dagster dev starts (see `launch`).
    previous = {s: signal.signal(s, stopper.on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        stopper.book = _open_run_book(time.time())
        if stopper.signals:
            return 0
        log_path = mesh_home() / "logs" / "mesh-up.log"
        click.echo(f"starting the Dagster UI and daemon on {url} ... (full log: {log_path})")
        child = stopper.start(dev_command(workspace, host, port, verbose), workspace.parent)
        assert child.stdout is not None and stopper.tree is not None
        relay = DevLog(child.stdout, log_path, verbose)
        relay.start()
        try:
            probe = f"http://{_probe_host(host)}:{port}/server_info"
            _announce_when_up(stopper, probe, url, catalog)
            next_look = time.monotonic()
            while not stopper.signals and child.poll() is None:
                if time.monotonic() >= next_look:
                    stopper.tree.refresh()
                    next_look = time.monotonic() + TREE_SECONDS
                stopper.wake.wait(POLL_SECONDS)
            if not stopper.signals:
                return child.returncode or 0
            relay.quiet()
            click.echo("stopping the Dagster UI and daemon ...")
            took = stopper.stop(also=catalog.stop if catalog else None)
            catalog = None  # stopped beside dagster dev
            click.echo(f"stopped in {took:.1f}s")
            return 0
        finally:
            relay.quiet()
            stopper.stop()
            relay.join(timeout=LOG_DRAIN_SECONDS)
    finally:
        if catalog is not None:
            catalog.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _open_run_book(since: float) -> RunBook | None:
    """The Dagster instance's runs, after marking those whose process is gone as FAILED; None
    (said once) if the instance cannot be read: dagster dev then reports why."""
    from mesh_platform.cli.inflight import open_run_book

    try:
        book = open_run_book(since)
        stale = book.fail_stale()
    except Exception as exc:
        click.echo(f"could not read the runs of the Dagster instance: {exc}", err=True)
        return None
    if stale:
        runs = "run whose process is" if len(stale) == 1 else "runs whose processes are"
        click.echo(f"marked {len(stale)} {runs} gone as FAILED: {' '.join(stale)}")
    return book


def _announce_when_up(
    stopper: Stopper, probe: str, url: str, catalog: CatalogServer | None
) -> None:
    """In a thread: once the UI answers, say where it is served and load the web catalog's
    mesh (after the UI is up, not competing with its start, so its first page is quick)."""

    def announce() -> None:
        while not _answers(probe):
            if stopper.signals or stopper.wake.wait(POLL_SECONDS):
                return
        if stopper.signals:
            return
        beside = f", the web catalog at {catalog.url}" if catalog else ""
        click.echo(f"serving at {url}{beside} (Ctrl-C stops it)")
        if catalog is None:
            return
        try:
            catalog.warm()
        except Exception as exc:  # the pages retry on request
            click.echo(f"web catalog: could not load the catalog yet ({exc})", err=True)

    threading.Thread(target=announce, name="mesh-up-announce", daemon=True).start()


def _answers(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False

"""`mesh up`: sample data, every product materialized, then the Dagster UI and daemon."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path

import click

from mesh_platform.cli.app import main, prepare_environment
from mesh_platform.cli.run import generate, materialize_targets


@main.command()
@click.option("--scale", default=0.01, show_default=True, type=float, help="TPC-H scale factor.")
@click.option("--headless", is_flag=True, help="Materialize everything and exit (no UI).")
@click.option("--host", default="127.0.0.1", show_default=True, help="UI host.")
@click.option("--port", default=3000, show_default=True, type=int, help="UI port.")
@click.pass_context
def up(ctx: click.Context, scale: float, headless: bool, host: str, port: int) -> None:
    """Bring the mesh up: sample data, every product materialized, then the Dagster UI.

    The UI runs with the daemon (schedules, sensors, automation) on HOST:PORT until stopped
    with Ctrl-C. With --headless, stop after materializing (for scripts and CI).
    """
    prepare_environment()
    started = time.perf_counter()
    ctx.invoke(generate, scale=scale, force=False)
    materialize_targets(None, False)
    click.echo(f"mesh up: data and products ready in {time.perf_counter() - started:.1f}s")
    if headless:
        return
    from mesh_platform.spec.workspace import repo_root

    dagster = shutil.which("dagster") or str(Path(sys.executable).parent / "dagster")
    workspace = str(repo_root() / "workspace.yaml")
    click.echo(f"serving the Dagster UI on http://{host}:{port} (Ctrl-C stops it)")
    # dagster dev ignores SIGINT when started from a non-interactive shell; restore it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.chdir(repo_root())
    os.execvpe(
        dagster, [dagster, "dev", "-w", workspace, "-h", host, "-p", str(port)], os.environ.copy()
    )

"""A domain's code location: every product in its folder, stamped with the domain's identity,
the automation sensor that refreshes its `eager` and `on_cron` products, and the resources and
executor of the current profile."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository

from mesh_platform.dagster.component import DataProduct
from mesh_platform.dagster.freshness import freshness_definitions
from mesh_platform.dagster.resources import build_executor, build_resources
from mesh_platform.engine.registry import engine_resource_keys, engine_resources
from mesh_platform.errors import MeshError, SpecError
from mesh_platform.loader import planner_for
from mesh_platform.spec.workspace import find_domain_folder

AUTOMATION_SENSOR = "mesh_automation"


def load_domain(
    definitions_file: str | Path, extra: dg.Definitions | None = None
) -> dg.Definitions:
    """The Definitions of the domain whose `definitions.py` is `definitions_file`.

    Every product under `products/` becomes an asset keyed `[domain, product]`; nothing is
    listed by hand. Only this domain is planned: inputs from other domains are checked
    against their published contracts. `extra` adds the domain's own non-product definitions
    (sensors, jobs).
    """
    folder = find_domain_folder(Path(definitions_file).resolve().parent)
    if folder is None:
        raise SpecError(
            f"{definitions_file} is not inside a domain folder (no domain.yaml beside it)",
            file=definitions_file,
            fix="put definitions.py in domains/<domain>/, next to domain.yaml",
        )
    parts = [location_definitions(folder.parent.parent, folder.name), automation_definitions()]
    if extra is not None:
        parts.append(extra)
    settings = dg.Definitions(resources=build_resources(folder.name), executor=build_executor())
    return dg.Definitions.merge(*parts, settings)


def automation_definitions() -> dg.Definitions:
    """The location's automation sensor, running from the start.

    Dagster gives each location a `default_automation_condition_sensor` that is STOPPED until
    someone starts it in the UI, so `eager` and `on_cron` products would never refresh on their
    own. This sensor targets every asset of the location (so no default one is added) and is
    RUNNING by default; the daemon evaluates it every 30 s. Stopping it in the UI still holds.
    """
    return dg.Definitions(
        sensors=[
            dg.AutomationConditionSensorDefinition(
                AUTOMATION_SENSOR,
                target=dg.AssetSelection.all(),
                default_status=dg.DefaultSensorStatus.RUNNING,
                description="Evaluates the automation conditions (eager, on_cron) of this "
                "location's products and launches the runs they request.",
            )
        ]
    )


def location_definitions(root: Path, domain: str) -> dg.Definitions:
    """The assets, schedules and freshness checks of `domain` under the mesh `root`, with the
    resources its products' engines take from a run (Spark's `pyspark`); the location adds the
    others."""
    planner = planner_for(root, domain)
    plans = planner.plan_all()
    parts = [
        DataProduct(planner.products[key].spec).definitions(planner, plans[key])
        for key in planner.order()
    ]
    specs = [planner.products[key].spec for key in planner.order()]
    freshness = freshness_definitions(domain, specs)
    if freshness is not None:
        parts.append(freshness)
    taken: dict[str, object] = {}  # one resource per key, whichever engine needs it
    for spec in specs:
        if any(key not in taken for key in engine_resource_keys(spec.engine)):
            for key, resource in engine_resources(spec.engine).items():
                taken.setdefault(key, resource)
    if taken:
        parts.append(dg.Definitions(resources=taken))
    return dg.Definitions.merge(*parts)


def run_in_location(
    root: Path,
    domain: str,
    keys: Iterable[tuple[str, str]],
    instance: dg.DagsterInstance,
    tags: Mapping[str, str] | None = None,
    run_config: Mapping[str, Any] | None = None,
    raise_on_error: bool = True,
) -> dg.ExecutionResult:
    """Materialize `keys` of `domain` as one run of its code location's asset job, with the
    location's executor (Celery workers in the prod profile), as `dagster asset materialize`
    does.

    The job is loaded by module (`domains.<domain>.definitions` under the mesh `root`), not
    passed as an object, so that the processes the executor hands steps to (other machines'
    workers) load the same job. `instance` must be a persistent instance (not ephemeral).
    """
    repository = ReconstructableRepository.for_module(
        f"domains.{domain}.definitions", "defs", working_directory=str(root)
    )
    selection = [dg.AssetKey(list(key)) for key in keys]
    job = repository.get_definition().get_implicit_job_def_for_assets(selection)
    if job is None:
        raise SpecError(
            f"the products {', '.join('.'.join(k.path) for k in selection)} do not share one "
            "partitioning, so they cannot run as one run",
            fix="materialize them in separate runs, one per partitioning",
        )
    with dg.execute_job(
        repository.get_reconstructable_job(job.name),
        instance,
        run_config=dict(run_config or {}),
        tags=dict(tags or {}),
        raise_on_error=raise_on_error,
        asset_selection=selection,
    ) as result:
        return result


WORKER_WAIT_SECONDS = 3.0  # how long the broker may take to name the workers that answer


class NoWorkers(MeshError):
    """The prod profile's Celery queue has no worker: a run launched now would wait forever."""


def require_celery_workers() -> None:
    """Raise `NoWorkers` (saying how to start one) unless a Celery worker consumes the prod
    profile's queue; checked before `mesh materialize` hands steps to the workers."""
    from celery import Celery
    from kombu.exceptions import OperationalError

    from mesh_platform.config.environment import celery

    settings = celery()
    app = Celery(broker=settings.broker)
    start = (
        f"start one: celery -A mesh_platform.config.celery_app worker -Q {settings.queue} "
        "(docs/deployment.md)"
    )
    try:
        answers = app.control.inspect(timeout=WORKER_WAIT_SECONDS).active_queues() or {}
    except (OSError, OperationalError) as error:
        raise NoWorkers(
            f"the Celery broker (MESH_CELERY_BROKER) does not answer: {error}. Fix: start the "
            f"broker (RabbitMQ or Redis), then the workers; {start}"
        ) from None
    finally:
        app.close()
    if not any(q.get("name") == settings.queue for queues in answers.values() for q in queues):
        raise NoWorkers(
            f"no Celery worker consumes the queue {settings.queue!r} (MESH_CELERY_QUEUE), so the "
            f"runs' steps would wait forever. Fix: {start}"
        )

"""The Celery app the prod profile's workers run.

    celery -A mesh_platform.config.celery_app worker -Q "${MESH_CELERY_QUEUE:-dagster}"

It is dagster-celery's app (`dagster_celery.app`) with the broker, result backend and default
queue of this environment (`MESH_CELERY_*`, read in `environment.celery()`), so the workers
and the code locations' executor (`dagster/resources.py`) agree by construction. Only worker
processes import this module; the settings are read at import because Celery loads the app
that way.
"""

from __future__ import annotations

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task, create_task

from mesh_platform.config.environment import celery

__all__ = ["app", "execute_job", "execute_plan", "resume_job"]

_settings = celery()

app = make_app(
    CeleryExecutor.for_cli(
        broker=_settings.broker,
        backend=_settings.backend,
        config_source={"task_default_queue": _settings.queue},
    ).app_args()
)

execute_plan = create_task(app)
execute_job = create_execute_job_task(app)
resume_job = create_resume_job_task(app)

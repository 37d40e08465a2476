"""A wrong deployment setting is one clean platform error naming the variable and the fix."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mesh_platform.cli import main
from mesh_platform.config.environment import current_environment
from mesh_platform.errors import ConfigurationError, PlatformError


def test_a_misspelt_environment_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESH_ENV", "prdo")
    with pytest.raises(ConfigurationError) as caught:
        current_environment()
    assert isinstance(caught.value, PlatformError)
    assert "MESH_ENV='prdo' is not an environment" in str(caught.value)
    assert "local, branch, prod" in str(caught.value)


def test_the_cli_prints_it_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESH_ENV", "prdo")
    result = CliRunner().invoke(main, ["preview", "sales.pricing_summary"])
    assert result.exit_code == 1
    assert "MESH_ENV='prdo' is not an environment" in result.output
    assert "Traceback" not in result.output


def test_the_embedded_instance_monitors_runs(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Runs whose process died are marked failed by the daemon (not left STARTED forever)."""
    import shutil

    import dagster as dg

    from mesh_platform.config.environment import instance_template

    shutil.copy(instance_template(), tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_settings["poll_interval_seconds"] <= 60


# The production profile (MESH_PROFILE): one setting switches the instance, catalog and executor.
# tests/test_production_profile.py runs the mesh on it; these check each setting's meaning.


def test_a_misspelt_profile_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from mesh_platform.config.environment import current_profile

    monkeypatch.delenv("MESH_PROFILE", raising=False)
    assert current_profile() == "embedded"
    monkeypatch.setenv("MESH_PROFILE", "production")
    with pytest.raises(ConfigurationError, match=r"MESH_PROFILE='production' is not a profile"):
        current_profile()
    result = CliRunner().invoke(main, ["cost"])
    assert result.exit_code == 1
    assert "embedded, prod" in result.output
    assert "Traceback" not in result.output


def test_the_prod_catalog_is_beside_the_instance_database(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mesh_platform.config.environment import catalog_url, postgres_url

    monkeypatch.setenv("MESH_HOME", str(tmp_path))
    monkeypatch.delenv("MESH_CATALOG_URL", raising=False)
    monkeypatch.delenv("MESH_POSTGRES_URL", raising=False)
    monkeypatch.delenv("MESH_PROFILE", raising=False)
    assert catalog_url() == f"sqlite:///{tmp_path / 'catalog.db'}"
    monkeypatch.setenv("MESH_PROFILE", "prod")
    assert postgres_url() == "postgresql+psycopg2://postgres@127.0.0.1:5432/mesh"
    assert catalog_url() == "postgresql+psycopg2://postgres@127.0.0.1:5432/mesh_catalog"
    url = "postgresql+psycopg2://mesh:s3cret@db.internal:6432/dagster?sslmode=require"
    monkeypatch.setenv("MESH_POSTGRES_URL", url)
    assert catalog_url() == (
        "postgresql+psycopg2://mesh:s3cret@db.internal:6432/dagster_catalog?sslmode=require"
    )
    monkeypatch.setenv("MESH_CATALOG_URL", "postgresql+psycopg://other/catalog")
    assert catalog_url() == "postgresql+psycopg://other/catalog"


def test_the_instance_database_needs_psycopg2_and_the_message_hides_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mesh_platform.config.environment import postgres_url

    monkeypatch.setenv("MESH_POSTGRES_URL", "postgresql://mesh:s3cret@db:5432/mesh")
    with pytest.raises(ConfigurationError) as caught:
        postgres_url()
    message = str(caught.value)
    assert "needs the psycopg2 driver" in message
    assert "postgresql+psycopg2://mesh:***@db:5432/mesh" in message
    assert "s3cret" not in message


def test_a_broker_celery_cannot_use(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from mesh_platform.config.environment import celery

    monkeypatch.delenv("MESH_CELERY_QUEUE", raising=False)
    monkeypatch.delenv("MESH_CELERY_BROKER", raising=False)
    assert celery().broker.startswith("pyamqp://") and celery().queue == "dagster"
    monkeypatch.setenv("MESH_CELERY_BROKER", "http://127.0.0.1:5672")
    with pytest.raises(ConfigurationError, match="scheme 'http', not a Celery broker"):
        celery()
    monkeypatch.setenv("MESH_CELERY_BROKER", "redis://127.0.0.1:6379/0")
    if importlib.util.find_spec("redis") is None:
        with pytest.raises(ConfigurationError, match=r"celery\[redis\]"):
            celery()
    else:
        assert celery().broker == "redis://127.0.0.1:6379/0"


def test_switching_profile_switches_a_template_instance_not_a_hand_written_one(
    monkeypatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from mesh_platform.config.environment import dagster_home, instance_config

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MESH_PROFILE", raising=False)
    config = dagster_home() / "dagster.yaml"
    assert config.read_text() == instance_config(tmp_path / "home", "embedded")
    monkeypatch.setenv("MESH_PROFILE", "prod")
    dagster_home()
    assert "env: MESH_POSTGRES_URL" in config.read_text()
    monkeypatch.setenv("MESH_PROFILE", "embedded")
    dagster_home()
    assert config.read_text() == instance_config(tmp_path / "home", "embedded")
    config.write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("MESH_PROFILE", "prod")
    dagster_home()
    assert config.read_text() == "telemetry:\n  enabled: false\n"


def test_the_executor_follows_the_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    """Embedded: Dagster's default. Prod: Celery on the configured queue, the broker read from
    its variable when the run starts (so its password is not in the definitions)."""
    from mesh_platform.dagster.resources import build_executor

    for name in ("MESH_PROFILE", "MESH_CELERY_BROKER", "MESH_CELERY_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    assert build_executor() is None
    monkeypatch.setenv("MESH_PROFILE", "prod")
    monkeypatch.setenv("MESH_CELERY_QUEUE", "mesh_etl")
    executor = build_executor()
    assert executor is not None and executor.name == "celery"
    config = executor.apply_config_mapping({}).value["config"]
    assert config["broker"] == "pyamqp://guest:guest@127.0.0.1:5672//"
    assert config["config_source"] == {"task_default_queue": "mesh_etl"}
    monkeypatch.setenv("MESH_CELERY_BROKER", "pyamqp://mesh:first@mq//")
    executor = build_executor()
    assert executor is not None
    monkeypatch.setenv("MESH_CELERY_BROKER", "pyamqp://mesh:rotated@mq//")
    assert executor.apply_config_mapping({}).value["config"]["broker"].endswith("rotated@mq//")


def test_the_workers_app_takes_the_same_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`celery -A mesh_platform.config.celery_app worker` uses the executor's broker, backend
    and queue, and knows dagster-celery's step task."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "MESH_CELERY_BROKER": "amqp://mesh@mq:5673//"}
    env |= {"MESH_CELERY_BACKEND": "rpc://", "MESH_CELERY_QUEUE": "mesh_etl"}
    code = (
        "from mesh_platform.config.celery_app import app\n"
        "print(app.conf.broker_url, app.conf.result_backend, app.conf.task_default_queue)\n"
        "print('execute_plan' in app.tasks)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["amqp://mesh@mq:5673//", "rpc://", "mesh_etl", "True"]


@pytest.mark.prod  # the machine's RabbitMQ
def test_prod_materialize_refuses_at_once_when_no_worker_takes_the_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Against the machine's RabbitMQ: a queue no worker consumes, then a broker that is down;
    each is one error naming the fix, instead of runs waiting forever."""
    from mesh_platform.dagster.location import NoWorkers, require_celery_workers

    monkeypatch.setenv("MESH_PROFILE", "prod")
    monkeypatch.delenv("MESH_CELERY_BROKER", raising=False)
    monkeypatch.setenv("MESH_CELERY_QUEUE", "mesh_no_worker_here")
    with pytest.raises(
        NoWorkers, match="no Celery worker consumes the queue 'mesh_no_worker_here'"
    ):
        require_celery_workers()
    monkeypatch.setenv("MESH_CELERY_BROKER", "amqp://guest:guest@127.0.0.1:1//")
    with pytest.raises(NoWorkers, match=r"broker .* does not answer") as refused:
        require_celery_workers()
    assert "guest:guest" not in str(refused.value)
    assert "celery -A mesh_platform.config.celery_app worker -Q mesh_no_worker_here" in str(
        refused.value
    )

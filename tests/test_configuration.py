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

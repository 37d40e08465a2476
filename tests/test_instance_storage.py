"""The embedded instance's storage (mesh_platform/dagster/sqlite_storage.py): Dagster's SQLite
files with connections kept open. A run's events reach other processes (another instance on the
same folder, Dagster's own storage, the UI's live view of a run) while the writer keeps its
connections, and the instance opened from its folder reads that folder whatever DAGSTER_HOME
says."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from mesh_platform.config.environment import dagster_home, instance_config
from mesh_platform.dagster.sqlite_storage import (
    KeptSqliteEventLogStorage,
    KeptSqliteRunStorage,
    KeptSqliteStorage,
)


@dg.asset
def upstream() -> int:
    return 1


@dg.asset
def downstream(upstream: int) -> int:
    return upstream + 1


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.delenv("MESH_PROFILE", raising=False)
    return dagster_home()


def test_the_template_instance_keeps_its_connections_and_reads_its_own_folder(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (home / "dagster.yaml").read_text() == instance_config(home)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))  # not this instance's
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.get_ref().storage, KeptSqliteStorage)
        assert isinstance(instance.event_log_storage, KeptSqliteEventLogStorage)
        assert isinstance(instance.run_storage, KeptSqliteRunStorage)
        result = dg.materialize([upstream, downstream], instance=instance)
        assert result.success
        # written to this folder's history, the write-ahead log kept while connections are open
        assert (home / "history" / "runs" / f"{result.run_id}.db").exists()
        assert (home / "history" / "runs" / "index.db-wal").exists()
        assert not (tmp_path / "elsewhere").exists()

        # Another process's view while the writer's connections stay open: Dagster's own
        # SQLite storage on the same files sees the run and every materialization.
        plain = tmp_path / "plain"
        plain.mkdir()
        (plain / "dagster.yaml").write_text(
            f"storage:\n  sqlite:\n    base_dir: {home}\ntelemetry:\n  enabled: false\n"
        )
        with dg.DagsterInstance.from_config(str(plain)) as other:
            run = other.get_run_by_id(result.run_id)
            assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
            for key in ("upstream", "downstream"):
                latest = other.get_latest_materialization_event(dg.AssetKey(key))
                assert latest is not None and latest.run_id == result.run_id


def test_a_watcher_sees_events_another_process_writes_with_its_connections_open(
    home: Path,
) -> None:
    """The UI's live view of a run watches the run's database file; with connections kept
    open, new events land in its write-ahead log first (the `.db` changes only at a
    checkpoint), so the watch wakes on either."""
    writer = dg.DagsterInstance.from_config(str(home))
    reader = dg.DagsterInstance.from_config(str(home))  # its own connections: another process
    run_id = dg.materialize([upstream], instance=writer).run_id
    seen: list[str] = []
    woken = threading.Event()

    def callback(entry: dg.EventLogEntry, _cursor: str) -> None:
        seen.append(entry.user_message)
        if "second" in entry.user_message:
            woken.set()

    cursor = reader.event_log_storage.get_records_for_run(run_id).cursor
    reader.event_log_storage.watch(run_id, cursor, callback)
    try:
        time.sleep(0.5)  # the observer's watch is in place before the writes
        for text in ("first", "second"):
            _log(writer, run_id, text)
        assert woken.wait(timeout=30), f"the watcher saw {seen}"
        assert [m for m in seen if m in ("first", "second")] == ["first", "second"]
    finally:
        reader.event_log_storage.end_watch(run_id, callback)
        reader.dispose()
        writer.dispose()


def _log(instance: dg.DagsterInstance, run_id: str, text: str) -> None:
    from dagster._core.events.log import EventLogEntry

    instance.event_log_storage.store_event(
        EventLogEntry(
            error_info=None, level=20, user_message=text, run_id=run_id,
            timestamp=time.time(), job_name="__ASSET_JOB", dagster_event=None,
        )
    )


def test_a_process_that_ends_leaves_every_event_in_the_database_files(home: Path) -> None:
    """Kept connections are closed at the process's end (the `mesh` command's quick end runs
    the exit handlers): each database is checkpointed and no write-ahead log is left behind,
    so the `.db` files alone hold the history, as with Dagster's storage."""
    import subprocess
    import sys

    probe = (
        "import dagster as dg\n"
        "from mesh_platform.cli.ending import end\n"
        "from tests.test_instance_storage import downstream, upstream\n"
        f"instance = dg.DagsterInstance.from_config({str(home)!r})\n"
        "print(dg.materialize([upstream, downstream], instance=instance).run_id)\n"
        "end(0)\n"
    )
    ended = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=False,
        cwd=Path(__file__).parents[1],
    )
    assert ended.returncode == 0, ended.stderr[-2000:]
    run_id = ended.stdout.strip().splitlines()[-1]
    assert not sorted(home.rglob("*.db-wal")), "a write-ahead log was left behind"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        latest = instance.get_latest_materialization_event(dg.AssetKey("downstream"))
        assert latest is not None and latest.run_id == run_id

"""Runs in flight in the Dagster instance, as `mesh up` settles them so that none shows
"In Progress" forever.

Dagster's default run launcher cannot tell whether a run's process is alive: a run whose
process died stays STARTED (run monitoring only times out runs stuck STARTING or CANCELING).
So `mesh up`:

- when it starts, marks each run in flight whose process is gone as FAILED (a CANCELING one as
  CANCELED); a run is in flight in STARTING, STARTED or CANCELING, and its process is the one
  that reported the run's start (the run worker, or a `mesh materialize`). Only with the
  embedded instance: the production instance is shared with other machines, whose processes
  cannot be seen from here.
- when it stops, marks the runs it owns (executed by a process it started, or launched while
  it served and not started yet) as CANCELING before stopping their processes, which then
  end them as CANCELED; whatever is still in flight once its processes are gone is CANCELED.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING

from mesh_platform.cli.processes import started_at

if TYPE_CHECKING:
    import dagster as dg

# A process that started this long after its run did cannot be the run's process (the kernel
# reused the pid).
_CLOCK_SLACK_SECONDS = 1.0


@dataclass(frozen=True)
class InFlight:
    """A run in flight, the process executing it (None before it started) and since when."""

    run: dg.DagsterRun
    pid: int | None
    since: float

    def process_gone(self) -> bool:
        if self.pid is None:
            return False
        started = started_at(self.pid)
        return started is None or started > self.since + _CLOCK_SLACK_SECONDS


class RunBook:
    """The runs of a Dagster instance that `mesh up` answers for."""

    def __init__(self, instance: dg.DagsterInstance, since: float, local: bool) -> None:
        self.instance = instance
        self.since = since  # when mesh up began serving (seconds since the epoch)
        # Every process of the instance's runs runs on this machine (the embedded instance).
        self.local = local

    def in_flight(self) -> list[InFlight]:
        import dagster as dg

        statuses = [
            dg.DagsterRunStatus.STARTING,
            dg.DagsterRunStatus.STARTED,
            dg.DagsterRunStatus.CANCELING,
        ]
        found = []
        for record in self.instance.get_run_records(dg.RunsFilter(statuses=statuses)):
            created = record.create_timestamp
            if created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
            since = record.start_time or created.timestamp()
            found.append(InFlight(record.dagster_run, self._pid(record.dagster_run.run_id), since))
        return found

    def _pid(self, run_id: str) -> int | None:
        """The process that started executing the run: its RUN_START event's, else the pid
        its worker announced ("Started process for run (pid: N)")."""
        import dagster as dg

        kinds = {dg.DagsterEventType.RUN_START, dg.DagsterEventType.ENGINE_EVENT}
        records = self.instance.get_records_for_run(run_id, of_type=kinds, limit=50).records
        for record in records:
            event = record.event_log_entry.dagster_event
            if event is not None and event.event_type == dg.DagsterEventType.RUN_START:
                return event.pid
        for record in records:
            event = record.event_log_entry.dagster_event
            metadata = getattr(event.event_specific_data, "metadata", None) if event else None
            announced = (metadata or {}).get("pid")
            if announced is not None and str(announced.value).isdigit():
                return int(announced.value)
        return None

    def fail_stale(self) -> list[str]:
        """Mark each run in flight whose process is gone as FAILED (CANCELING: CANCELED);
        returns their ids. Nothing unless the instance is local."""
        import dagster as dg

        marked = []
        for flight in self.in_flight() if self.local else []:
            if not flight.process_gone():
                continue
            note = (
                f"mesh up found this run {flight.run.status.value} with its process "
                f"(pid {flight.pid}) gone"
            )
            if flight.run.status == dg.DagsterRunStatus.CANCELING:
                self.instance.report_run_canceled(flight.run, f"{note}: marked as canceled.")
            else:
                self.instance.report_run_failed(flight.run, f"{note}: marked as failed.")
            marked.append(flight.run.run_id)
        return marked

    def owned(self, pids: set[int]) -> list[InFlight]:
        """The runs in flight executed by one of `pids`, or launched since mesh up began
        serving and not started by any process yet (or, on a local instance, by one that is
        gone: one of its own, killed before it was seen)."""
        return [
            flight
            for flight in self.in_flight()
            if flight.pid in pids
            or (
                flight.since >= self.since
                and (flight.pid is None or (self.local and flight.process_gone()))
            )
        ]

    def request_cancel(self, flights: Iterable[InFlight]) -> None:
        """CANCELING: a run's process interrupted now ends it as CANCELED, not FAILED."""
        import dagster as dg

        for flight in flights:
            if flight.run.status != dg.DagsterRunStatus.CANCELING:
                self.instance.report_run_canceling(flight.run, "mesh up is stopping.")

    def cancel(self, pids: set[int]) -> list[str]:
        """Mark the runs of `pids` (their processes are gone) still in flight as CANCELED."""
        canceled = []
        for flight in self.owned(pids):
            message = "mesh up stopped while this run was in flight: marked as canceled."
            self.instance.report_run_canceled(flight.run, message)
            canceled.append(flight.run.run_id)
        return canceled


def open_run_book(since: float) -> RunBook:
    """The run book of the current Dagster instance (`DAGSTER_HOME`)."""
    import dagster as dg

    from mesh_platform.config.environment import current_profile

    return RunBook(dg.DagsterInstance.get(), since, local=current_profile() == "embedded")

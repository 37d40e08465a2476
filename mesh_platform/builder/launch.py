"""Run a product from the builder: a Dagster run of its code location, launched through the
Dagster webserver's GraphQL (`mesh up` serves it), with its missing upstream as `mesh
materialize` builds it (`dagster/orchestration.py` `missing_upstream`).

A run holds the products of one code location: the missing inputs of the product's own domain
are selected in its run (Dagster orders them); those of other domains are launched first as
runs of their own locations, each waited for, since a run cannot wait for another location's.

Each location a run is launched in is reloaded first (`reloadRepositoryLocation`, then waited
for until LOADED): `mesh up` loaded the specs when it started, and a product saved since is
unknown to its location (or known as it was) until the location reads its files again.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mesh_platform.builder.errors import BuilderError
from mesh_platform.spec.workspace import Key

ASSET_JOB = "__ASSET_JOB"  # Dagster's implicit job of every asset of a repository
REPOSITORY = "__repository__"  # the repository of a code location's Definitions
DONE = ("SUCCESS", "FAILURE", "CANCELED")
UPSTREAM_TIMEOUT = 3600.0
RELOAD_TIMEOUT = 300.0

LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on PipelineNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}
"""
RELOAD = """
mutation Reload($location: String!) {
  reloadRepositoryLocation(repositoryLocationName: $location) {
    __typename
    ... on ReloadNotSupported { message }
    ... on RepositoryLocationNotFound { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""
LOCATION = """
query Location($location: String!) {
  workspaceLocationEntryOrError(name: $location) {
    __typename
    ... on WorkspaceLocationEntry {
      loadStatus
      locationOrLoadError { __typename ... on PythonError { message } }
    }
    ... on PythonError { message }
  }
}
"""
STATUS = """
query Status($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""


class LaunchFailed(BuilderError):
    """The webserver refused the run, or could not be reached."""


def _graphql(ui_url: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(
        f"{ui_url.rstrip('/')}/graphql", data=body, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = json.load(response)
    except (urllib.error.URLError, OSError) as exc:
        raise LaunchFailed(
            f"the Dagster webserver at {ui_url} cannot be reached ({exc}); start it with `mesh up`"
        ) from None
    if payload.get("errors"):
        raise LaunchFailed(f"the Dagster webserver refused the request: {payload['errors']}")
    data: dict[str, Any] = payload["data"]
    return data


def reload_location(ui_url: str, location: str, timeout: float = RELOAD_TIMEOUT) -> None:
    """Have the webserver load code location `location` from its files again; return once it
    is LOADED (its definitions then hold the specs as saved now)."""
    found = _graphql(ui_url, RELOAD, {"location": location})["reloadRepositoryLocation"]
    if found["__typename"] == "RepositoryLocationNotFound":
        raise LaunchFailed(
            f"the running `mesh up` has no code location {location}: the domain was added "
            "after it started; stop `mesh up` (Ctrl-C) and start it again to load the domain, "
            "then materialize"
        )
    if found["__typename"] != "WorkspaceLocationEntry":
        raise LaunchFailed(
            f"Dagster did not reload code location {location} ({found['__typename']}: "
            f"{found.get('message', '')}); reload it in the Dagster UI (Deployment) and retry"
        )
    deadline = time.monotonic() + timeout
    while True:
        entry = _graphql(ui_url, LOCATION, {"location": location})
        entry = entry["workspaceLocationEntryOrError"] or {}
        loaded = entry.get("locationOrLoadError") or {}
        if entry.get("loadStatus") == "LOADED" and loaded.get("__typename"):
            if loaded["__typename"] != "RepositoryLocation":
                raise LaunchFailed(
                    f"code location {location} failed to load: {loaded.get('message', '')}; "
                    "fix the error `mesh validate` reports and materialize again"
                )
            return
        if time.monotonic() > deadline:
            raise LaunchFailed(f"code location {location} did not load within {timeout:.0f} s")
        time.sleep(0.5)


def launch_location(ui_url: str, location: str, keys: Sequence[Key]) -> str:
    """A run of `keys` (assets of code location `location`, reloaded first); its run id."""
    reload_location(ui_url, location)
    params = {
        "selector": {
            "repositoryLocationName": location,
            "repositoryName": REPOSITORY,
            "jobName": ASSET_JOB,
            "assetSelection": [{"path": list(key)} for key in keys],  # with their checks
        },
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": "mesh/launched_by", "value": "builder"}]},
    }
    found = _graphql(ui_url, LAUNCH, {"params": params})["launchRun"]
    if found["__typename"] != "LaunchRunSuccess":
        why = found.get("message") or "; ".join(e["message"] for e in found.get("errors", []))
        raise LaunchFailed(
            f"Dagster refused the run of {', '.join('.'.join(k) for k in keys)} in location "
            f"{location} ({found['__typename']}: {why}); check `mesh validate` and the location "
            "in the Dagster UI"
        )
    return str(found["run"]["runId"])


def run_status(ui_url: str, run_id: str) -> dict[str, Any]:
    """{"status": "QUEUED" | "STARTED" | "SUCCESS" | "FAILURE" | ..., "url": the run's page in
    the Dagster UI, "message": what to do when it failed}."""
    found = _graphql(ui_url, STATUS, {"runId": run_id})["runOrError"]
    url = f"{ui_url.rstrip('/')}/runs/{run_id}"
    if found["__typename"] != "Run":
        return {"status": "NOT_FOUND", "url": url, "message": found.get("message", "")}
    status = str(found["status"])
    message = ""
    if status == "FAILURE":
        message = f"the run failed: its failure, class and fix are on the run's page ({url})"
    return {"status": status, "url": url, "message": message}


def launch(root: Path, product: str, ui_url: str) -> str:
    """Materialize `product` (`domain.product`) and its missing upstream as Dagster runs; the
    run id of the product's run (other domains' missing inputs are built first, waited for)."""
    from mesh_platform.builder.warm import warm
    from mesh_platform.dagster.orchestration import missing_upstream
    from mesh_platform.loader.mesh import load_healthy

    mesh = load_healthy(root)  # not the cached mesh: the builder may have just saved the spec
    try:
        key = mesh.product(product).spec.key
    except KeyError as exc:
        raise LaunchFailed(f"{exc.args[0]}; save the product and check `mesh validate`") from None
    missing = missing_upstream(mesh, [key], warm().lakehouse.exists)
    own = [k for k in missing if k[0] == key[0]]
    for location, keys in _other_locations(missing, key[0]):
        _wait(ui_url, launch_location(ui_url, location, keys), keys)
    return launch_location(ui_url, key[0], [*own, key])


def _other_locations(missing: list[Key], domain: str) -> list[tuple[str, list[Key]]]:
    """Missing inputs of other domains as runs of their locations, upstream first: a new run
    each time the location changes (its inputs may come from the run before)."""
    runs: list[tuple[str, list[Key]]] = []
    for key in missing:
        if key[0] == domain:
            continue
        if runs and runs[-1][0] == key[0]:
            runs[-1][1].append(key)
        else:
            runs.append((key[0], [key]))
    return runs


def _wait(ui_url: str, run_id: str, keys: Sequence[Key]) -> None:
    deadline = time.monotonic() + UPSTREAM_TIMEOUT
    while time.monotonic() < deadline:
        status = run_status(ui_url, run_id)
        if status["status"] == "SUCCESS":
            return
        if status["status"] in DONE:
            raise LaunchFailed(
                f"the run building the missing input(s) {', '.join('.'.join(k) for k in keys)} "
                f"ended {status['status']}: see {status['url']}"
            )
        time.sleep(1.0)
    raise LaunchFailed(f"the run {run_id} building the missing inputs did not end in time")

"""Peers: the 22 TPC-H queries as Mesh products vs the same SQL in dbt-duckdb, in dagster-dbt
and on the floor, all reading the same silver Delta tables (issue 19, item 1).

`python -m bench.peers [--scale 1] [--rounds 3] [--json] [--profile]`. A copy of the demo's
platform domain builds the silver tables once (bronze and silver, not timed); then, each
round, four arms run one after the other, each a fresh process tree, the order rotated every
round, after one warm-up round that is not counted:

- mesh: a generated `tpch` domain of 22 products (YAML specs with one SQL step each, reading
  platform's silver products through approved subscriptions), materialized in one Dagster run
  on a persisted instance, as `mesh materialize tpch` does (`materialize_selection`); results
  written as Delta tables by the platform;
- dbt-duckdb: `dbt build` of a project of the same 22 queries as models, their sources the
  silver Delta tables read through dbt-duckdb's `delta` plugin (delta-rs to an Arrow dataset);
  results materialized as tables in a DuckDB file (the plugin writes no Delta);
- dagster-dbt: the same dbt project as `@dbt_assets` materialized in one Dagster run on a
  persisted instance (dagster-dbt runs `dbt build` as a child and streams its events);
- floor: DuckDB over the silver tables' Arrow datasets (delta-rs), each result written with
  `write_deltalake`; no orchestrator.

Per arm: wall, CPU (user + system of the whole tree) and peak memory (the tree's RSS summed,
sampled every 100 ms, and the largest process's ru_maxrss), medians over the rounds; the
ratios against the issue's targets; and whether the 22 results agree across the arms (row
counts and values, rows sorted, numbers equal to 1e-6). dbt-core, dbt-duckdb and dagster-dbt
are the `peers` dependency group, installed in their own environment (var/peers-venv) from
the lock file, never by `make install`: see workspace.SYNC_PEERS. The mesh and the floor run on
the project's environment (.venv), as installed (with sqlglot compiled, `sqlglot[rs]`, as the
peers' environment has it too).
"""

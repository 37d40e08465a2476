"""Shared pytest fixtures of the test suite."""

pytest_plugins = ["tests.fixtures_mesh"]

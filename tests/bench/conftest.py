"""Benchmarks run only when asked for by marker: ``-m bench`` (the bench tox env).

pyproject's addopts leave them out with ``-m "not bench"``, but a marker expression given on
the command line replaces that one: ``python -m pytest -m "not slow"``, the README's quick
run, would time every benchmark too. So a benchmark is deselected here unless the marker
expression in force mentions ``bench``.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "bench" in (config.getoption("markexpr") or ""):
        return  # -m bench, -m "not bench", or any expression that decides about them itself
    benchmarks = [item for item in items if item.get_closest_marker("bench") is not None]
    if benchmarks:
        config.hook.pytest_deselected(items=benchmarks)
        items[:] = [item for item in items if item.get_closest_marker("bench") is None]

"""The shipped knowledge base is what scripts/build_ancestry.py makes from the public tables."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

from iokit_host.matching.ancestry import DATA_FILE

REPO = Path(__file__).resolve().parents[2]
TABLES = Path(os.environ.get("IOKIT_CLASS_ANCESTRY",
                             REPO.parent / "shared" / "reference" / "class-ancestry"))


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_ancestry",
                                                  REPO / "scripts" / "build_ancestry.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tables() -> Path:
    if not (TABLES / "open_source.tsv").is_file():
        pytest.skip(f"class-ancestry tables not found at {TABLES}")
    return TABLES


def test_the_shipped_file_is_what_the_script_makes_from_the_tables(tables: Path) -> None:
    script = _script()
    made = script.render(script.build(tables))
    assert made == DATA_FILE.read_text(encoding="utf-8"), (
        "run: python scripts/build_ancestry.py")


def test_every_fact_keeps_its_repository_path_and_commit(tables: Path) -> None:
    script = _script()
    data = script.build(tables)
    sources = data["sources"]
    assert all(repo and path for repo, path, _ in sources)
    archive = [row for rows in data["kernel"].values() for row in rows if row[1] == "archive"]
    assert archive and all(data["builds"][str(s)] for row in archive for s in row[2])
    # Every open-source metaclass row of the tables is in the base, with its source.
    rows = list(script._rows(tables / "open_source.tsv"))
    metaclass = [r for r in rows if r["kind"] == "metaclass"]
    for row in metaclass[:200]:
        facts = data["kernel"][row["class"]]
        assert any(f[0] == row["superclass"] and f[1] == "metaclass"
                   and sources[f[2]] == [row["repo"], row["path"], row["commit"]]
                   for f in facts), row


def test_xnu_tags_are_placed_on_the_darwin_release_axis() -> None:
    script = _script()
    assert script.xnu_release("tag:xnu-8020.121.3") == 21
    assert script.xnu_release("tag:xnu-1699.32.7") == 11
    assert script.xnu_release("tag:xnu-792.24.17") == 8
    assert script.xnu_release("tag:IOUSBFamily-560.4.2") is None
    assert script.xnu_release("main") is None

"""Every hookspec is documented, and docs/lifecycle.md's hook reference matches the specs."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from iokit_sdk import hookspecs

DOC = Path(__file__).resolve().parents[1] / "docs" / "lifecycle.md"
REQUIRED = {"iokit_init", "iokit_probe", "iokit_attach", "iokit_start", "iokit_stop",
            "iokit_detach", "iokit_free", "iokit_register_service", "iokit_will_terminate",
            "iokit_did_terminate", "iokit_publish", "iokit_first_publish", "iokit_matched",
            "iokit_first_match", "iokit_terminated"}


def _specs() -> dict[str, inspect.Signature]:
    return {name: inspect.signature(fn) for name, fn in vars(hookspecs).items()
            if name.startswith("iokit_") and callable(fn)}


def test_every_required_hook_has_a_spec_that_receives_the_service() -> None:
    specs = _specs()
    assert REQUIRED <= set(specs)
    assert all(next(iter(sig.parameters)) == "service" for sig in specs.values())


def test_every_hookspec_documents_its_arguments_and_when_it_fires() -> None:
    for name, signature in _specs().items():
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Fires" in doc, f"{name} does not say when it fires"
        for parameter in signature.parameters:
            assert f":param {parameter}:" in doc, f"{name} does not document {parameter}"


def test_docs_hook_reference_agrees_with_the_specs() -> None:
    text = DOC.read_text(encoding="utf-8")
    reference = text.split("## Hook reference", 1)[1].split("\n## ", 1)[0]
    documented = dict(re.findall(r"^### `(iokit_\w+)\(([^)]*)\)`", reference, re.MULTILINE))
    specs = _specs()
    assert set(documented) == set(specs)
    for name, signature in specs.items():
        assert documented[name] == ", ".join(signature.parameters), name
        firstresult = getattr(hookspecs, name).iokit_spec["firstresult"]
        section = reference.split(f"### `{name}(", 1)[1].split("###", 1)[0]
        assert ("firstresult" in section) == firstresult, name

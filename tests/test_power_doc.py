"""docs/power.md documents every power hook and every power method of the SDK with the
signature the code declares, and the README points to it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from iokit_sdk import hookspecs
from iokit_sdk.pm import PowerManagement
from iokit_sdk.service import IOService

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "power.md").read_text(encoding="utf-8").replace("\\|", "|")
POWER_HOOKS = ("iokit_set_power_state", "iokit_power_state_will_change_to",
               "iokit_power_state_did_change_to", "iokit_message")


def _signature(name: str, func: object) -> str:
    sig = inspect.signature(func)  # type: ignore[arg-type]
    params = []
    for p in sig.parameters.values():
        if p.name == "self":
            continue
        text = f"{p.name}: {p.annotation}"
        if p.default is not p.empty:
            text += f" = {p.default!r}"
        params.append(text)
    return f"{name}({', '.join(params)}) -> {sig.return_annotation}"


def test_every_power_method_of_iokit_service_is_documented_with_its_signature() -> None:
    methods = [name for name, value in vars(PowerManagement).items()
               if callable(value) and not name.startswith("_")]
    assert len(methods) >= 18
    for name in [*methods, "message"]:
        expected = _signature(name, getattr(IOService, name))
        assert f"`{expected}`" in DOC, expected


def test_every_power_hook_is_documented_with_its_signature() -> None:
    for name in POWER_HOOKS:
        expected = _signature(name, getattr(hookspecs, name))
        assert f"`{expected}`" in DOC, expected


def test_the_power_hooks_are_the_hookspecs_that_reach_drivers_for_power() -> None:
    specs = {name for name in vars(hookspecs) if re.fullmatch(r"iokit_\w*power\w*", name)}
    assert specs <= set(POWER_HOOKS)


def test_the_readme_links_the_power_document() -> None:
    assert "(docs/power.md)" in (ROOT / "README.md").read_text(encoding="utf-8")

"""docs/driver-guide.md states exact signatures; these tests keep them equal to the code."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from iokit_sdk import hookspecs
from iokit_sdk.service import IOService

from iokit_host import testing

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "driver-guide.md"
LIFECYCLE_METHODS = ("init", "probe", "start", "stop", "free", "will_terminate",
                     "did_terminate")
ASSERTIONS = ("assert_bound", "assert_not_bound", "assert_not_matched", "assert_waiting",
              "assert_failed", "assert_kext_refused", "assert_power_state")


def section(title: str) -> str:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(f"\n{title}\n")
    rest = text[start + len(title) + 2:]
    end = re.search(r"^#{2,3} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def documented(text: str, prefix: str) -> dict[str, str]:
    """name -> signature for every `name(...)` in backticks starting with ``prefix``."""
    found = re.findall(rf"`({prefix}\w*\(.*?\)(?: -> [^`]+)?)`", text.replace("\\|", "|"))
    return {sig.split("(", 1)[0]: sig for sig in found}


def signature(name: str, func: Callable[..., Any], *, show_return: bool = True,
              annotated: bool = True) -> str:
    sig = inspect.signature(func)
    params = []
    star = False
    for p in sig.parameters.values():
        if p.kind is p.KEYWORD_ONLY and not star:
            params.append("*")
            star = True
        annotate = annotated and p.annotation is not p.empty
        text = f"{p.name}: {p.annotation}" if annotate else p.name
        if p.default is not p.empty:
            text += f" = {p.default!r}" if annotate else f"={p.default!r}"
        params.append(text)
    result = f"{name}({', '.join(params)})"
    if show_return and sig.return_annotation not in (sig.empty, "None"):
        result += f" -> {sig.return_annotation}"
    return result


def test_every_hookspec_is_in_the_guide_with_its_exact_signature() -> None:
    specs = {name: f for name, f in vars(hookspecs).items()
             if name.startswith("iokit_") and hasattr(f, "iokit_spec")}
    guide = documented(section("## 6. Hook reference"), "iokit_")
    assert set(guide) == set(specs), "hooks missing from or extra in the guide"
    for name, func in specs.items():
        expected = signature(name, func, show_return=False)
        returns = inspect.signature(func).return_annotation
        assert guide[name] == f"{expected} -> {returns}", name


def test_firstresult_hooks_are_marked_as_such() -> None:
    rows = [line for line in section("## 6. Hook reference").splitlines()
            if line.startswith("| `iokit_")]
    for row in rows:
        name = re.search(r"`(iokit_\w+)", row).group(1)  # type: ignore[union-attr]
        firstresult = getattr(hookspecs, name).iokit_spec["firstresult"]
        assert ("*firstresult*" in row) == firstresult, name


def test_the_driver_methods_are_documented_as_the_sdk_declares_them() -> None:
    guide = documented(section("### Driver methods"), "")
    for name in LIFECYCLE_METHODS:
        func = getattr(IOService, name)
        returns = inspect.signature(func).return_annotation
        assert guide[name] == signature(name, func, show_return=False) + f" -> {returns}"


def test_the_testing_assertions_are_documented_as_they_are_defined() -> None:
    guide = documented(section("## 7. Testing with the pytest plugin"), "assert_")
    assert set(guide) == set(ASSERTIONS)
    for name in ASSERTIONS:
        func = getattr(testing, name)
        # the guide shows parameters without their annotations, and the return type
        expected = signature(name, func, show_return=False, annotated=False)
        assert guide[name].split(" -> ")[0] == expected, name

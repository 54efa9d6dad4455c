"""The entitlement policy: which processes hold which entitlement (codesigning's place).

On macOS an entitlement is signed into an executable and the kernel reads it from the code
signature (``IOTaskHasEntitlement``); a process cannot claim one. Here the operator writes a
TOML policy file, given to ``iokit kernel --entitlements FILE``, and the kernel grants each
connecting process the entitlements its uid, groups or executable (``/proc/PID/exe``) hold::

    [entitlements."com.example.smc.write"]
    uids = [1000]            # user ids, or user names
    gids = ["admin"]         # group ids or names (primary or supplementary)
    executables = ["/usr/local/bin/smc-write"]

The policy is operator input: an entry that cannot be read is reported (file, key, reason)
and grants nothing, the rest still apply; only a file that cannot be read at all is refused.
"""

from __future__ import annotations

import grp
import pwd
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iokit_host.errors import Diagnostic, IOKitError, Severity
from iokit_host.input_file import read_input_file

__all__ = ["EntitlementPolicy", "EntitlementPolicyError", "Grant", "read_policy"]

Report = Callable[[Diagnostic], None]
_IDS = {"uids": (pwd.getpwnam, "pw_uid"), "gids": (grp.getgrnam, "gr_gid")}


#: Largest policy file read: a policy naming every user of a large site is well under it.
MAX_POLICY_BYTES = 16 << 20


class EntitlementPolicyError(IOKitError):
    reference = "entitlement-policy-invalid"


@dataclass(frozen=True, slots=True)
class Grant:
    """Who holds one entitlement."""

    entitlement: str
    uids: frozenset[int] = frozenset()
    gids: frozenset[int] = frozenset()
    executables: frozenset[str] = frozenset()

    def holds(self, uid: int, gids: Iterable[int], executable: str | None) -> bool:
        return (uid in self.uids or not self.gids.isdisjoint(gids)
                or (executable is not None and executable in self.executables))


@dataclass(frozen=True, slots=True)
class EntitlementPolicy:
    """Every grant of one policy file (none: nobody holds any entitlement)."""

    grants: tuple[Grant, ...] = ()
    source: str | None = None

    def entitlements_for(self, uid: int, gids: Iterable[int],
                         executable: str | None) -> frozenset[str]:
        groups = frozenset(gids)
        return frozenset(g.entitlement for g in self.grants if g.holds(uid, groups, executable))


def read_policy(path: str | Path, report: Report) -> EntitlementPolicy:
    """The policy in ``path``; damaged entries go to ``report`` and grant nothing.

    :raises EntitlementPolicyError: the file cannot be read, or is not a policy at all.
    """
    file = str(path)
    try:
        # Opened without waiting: a FIFO nobody writes to would block the kernel's start
        # in open(), where even SIGTERM only restarts the wait.
        text = read_input_file(path, limit=MAX_POLICY_BYTES).decode("utf-8-sig")
        data = tomllib.loads(text)
    except RecursionError:
        raise EntitlementPolicyError(
            "cannot read the entitlement policy: its arrays or tables nest too deep to parse",
            file=file, hint="a UTF-8 TOML file of [entitlements.\"NAME\"] tables") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise EntitlementPolicyError(f"cannot read the entitlement policy: {reason}", file=file,
                                     hint="a UTF-8 TOML file of [entitlements.\"NAME\"] tables"
                                     ) from error
    table = data.get("entitlements", {})
    if not isinstance(table, Mapping):
        raise EntitlementPolicyError("'entitlements' must be a table", file=file,
                                     key="entitlements",
                                     hint='write [entitlements."com.example.name"] tables')
    grants = []
    for name, entry in table.items():
        grant = _grant(name, entry, file, report)
        if grant is not None:
            grants.append(grant)
    return EntitlementPolicy(tuple(grants), file)


def _grant(name: str, entry: object, file: str, report: Report) -> Grant | None:
    key = f"entitlements.{name}"
    if not isinstance(entry, Mapping):
        report(_problem(file, key, "an entitlement's grant must be a table"))
        return None
    unknown = sorted(set(entry) - {"uids", "gids", "executables"})
    if unknown:
        report(_problem(file, f"{key}.{unknown[0]}", "unknown key; known: uids, gids, "
                        "executables"))
    uids = _ids(entry.get("uids", []), "uids", f"{key}.uids", file, report)
    gids = _ids(entry.get("gids", []), "gids", f"{key}.gids", file, report)
    executables = _paths(entry.get("executables", []), f"{key}.executables", file, report)
    return Grant(name, uids, gids, executables)


def _ids(values: Any, kind: str, key: str, file: str, report: Report) -> frozenset[int]:
    if not isinstance(values, list):
        report(_problem(file, key, f"must be an array of ids or names, not {values!r}"))
        return frozenset()
    lookup, field = _IDS[kind]
    found: set[int] = set()
    for index, value in enumerate(values):
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 32:
            found.add(value)
        elif isinstance(value, str):
            try:
                found.add(getattr(lookup(value), field))
            except (KeyError, ValueError):  # ValueError: a NUL byte, which no name holds
                report(_problem(file, f"{key}[{index}]", f"no such name {value!r} on this "
                                "system", severity=Severity.WARNING))
        else:
            report(_problem(file, f"{key}[{index}]", f"not an id or a name: {value!r}"))
    return frozenset(found)


def _paths(values: Any, key: str, file: str, report: Report) -> frozenset[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        report(_problem(file, key, f"must be an array of absolute paths, not {values!r}"))
        return frozenset()
    return frozenset(values)


def _problem(file: str, key: str, message: str,
             severity: Severity = Severity.ERROR) -> Diagnostic:
    return Diagnostic("entitlement-policy-invalid", message, file=file, key=key,
                      severity=severity,
                      hint="this entry grants nothing; the rest of the policy applies")

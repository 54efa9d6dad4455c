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

from iokit_host.errors import Diagnostic, IOKitError, Severity, did_you_mean, quoted
from iokit_host.input_file import decode_text, read_input_file, undecodable_place
from iokit_host.toml_keys import deep_key_reason

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


_POLICY_HINT = 'a UTF-8 TOML file of [entitlements."NAME"] tables'


def read_policy(path: str | Path, report: Report) -> EntitlementPolicy:
    """The policy in ``path``; damaged entries go to ``report`` and grant nothing.

    :raises EntitlementPolicyError: the file cannot be read, or is not a policy at all.
    """
    file = str(path)
    try:
        # Opened without waiting: a FIFO nobody writes to would block the kernel's start
        # in open(), where even SIGTERM only restarts the wait.
        raw = read_input_file(path, limit=MAX_POLICY_BYTES)
        text = decode_text(raw)
        deep = deep_key_reason(text)  # before tomllib, quadratic in a key's parts
        if deep is not None:
            raise EntitlementPolicyError(f"cannot read the entitlement policy: {deep}",
                                         file=file, hint=_POLICY_HINT)
        data = tomllib.loads(text)
    except UnicodeDecodeError as error:
        raise EntitlementPolicyError(
            f"cannot read the entitlement policy: {undecodable_place(raw, error)}", file=file,
            hint="save the policy as UTF-8") from None
    except RecursionError:
        raise EntitlementPolicyError(
            "cannot read the entitlement policy: its arrays or tables nest too deep to parse",
            file=file, hint=_POLICY_HINT) from None
    except (OSError, tomllib.TOMLDecodeError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise EntitlementPolicyError(f"cannot read the entitlement policy: {reason}", file=file,
                                     hint=_POLICY_HINT
                                     ) from error
    _check_top_keys(data, file, report)
    table = data.get("entitlements", {})
    if not isinstance(table, Mapping):
        raise EntitlementPolicyError("'entitlements' must be a table", file=file,
                                     key="entitlements",
                                     hint='write [entitlements."com.example.name"] tables')
    names = _Names()
    grants = []
    for name, entry in table.items():
        grant = _grant(name, entry, file, report, names)
        if grant is not None:
            grants.append(grant)
    return EntitlementPolicy(tuple(grants), file)


def _check_top_keys(data: Mapping[str, Any], file: str, report: Report) -> None:
    """A misspelt table (``[entitlement."x"]``) would grant nothing, silently: say so."""
    for key in sorted(set(data) - {"entitlements"}):
        guess = did_you_mean(key, ["entitlements"])
        said = "unknown table or key, ignored" + (f"; {guess}" if guess else "")
        report(_problem(file, key, said,
                        hint='a policy holds only [entitlements."NAME"] tables'))


class _Names:
    """User and group names looked up once each (a policy may repeat one thousands of times,
    and a lookup of a name that is not there can reach a directory service)."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], int | None] = {}

    def resolve(self, kind: str, name: str) -> int | None:
        key = (kind, name)
        if key not in self._found:
            lookup, field = _IDS[kind]
            try:
                self._found[key] = int(getattr(lookup(name), field))
            except (KeyError, ValueError):  # ValueError: a NUL byte, which no name holds
                self._found[key] = None
        return self._found[key]


def _grant(name: str, entry: object, file: str, report: Report,
           names: _Names) -> Grant | None:
    key = f"entitlements.{name}"
    if not isinstance(entry, Mapping):
        report(_problem(file, key, f"an entitlement's grant must be a table, not "
                        f"{quoted(entry)}"))
        return None
    unknown = sorted(set(entry) - {"uids", "gids", "executables"})
    if unknown:
        report(_problem(file, f"{key}.{unknown[0]}", "unknown key; known: uids, gids, "
                        "executables"))
    uids = _ids(entry.get("uids", []), "uids", f"{key}.uids", file, report, names)
    gids = _ids(entry.get("gids", []), "gids", f"{key}.gids", file, report, names)
    executables = _paths(entry.get("executables", []), f"{key}.executables", file, report)
    return Grant(name, uids, gids, executables)


def _ids(values: Any, kind: str, key: str, file: str, report: Report,
         names: _Names) -> frozenset[int]:
    if not isinstance(values, list):
        report(_problem(file, key, f"must be an array of ids or names, not {quoted(values)}"))
        return frozenset()
    found: set[int] = set()
    bad: list[int] = []
    missing: list[int] = []
    for index, value in enumerate(values):
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 32:
            found.add(value)
        elif isinstance(value, str):
            ident = names.resolve(kind, value)
            if ident is None:
                missing.append(index)
            else:
                found.add(ident)
        else:
            bad.append(index)
    # One diagnostic per kind of problem in an array, however long: the first place, a count.
    _report_items(report, file, key, values, bad, "not an id or a name")
    _report_items(report, file, key, values, missing, "no such name on this system",
                  severity=Severity.WARNING)
    return frozenset(found)


def _paths(values: Any, key: str, file: str, report: Report) -> frozenset[str]:
    if not isinstance(values, list):
        report(_problem(file, key, f"must be an array of absolute paths, not "
                        f"{quoted(values)}"))
        return frozenset()
    good = [i for i, v in enumerate(values)
            if isinstance(v, str) and v.startswith("/") and "\0" not in v]
    bad = sorted(set(range(len(values))) - set(good))
    # /proc/PID/exe is always absolute: a relative path or a non-string would match nothing.
    _report_items(report, file, key, values, bad, "not an absolute path")
    return frozenset(values[i] for i in good)


def _report_items(report: Report, file: str, key: str, values: list[Any], indexes: list[int],
                  what: str, severity: Severity = Severity.ERROR) -> None:
    if not indexes:
        return
    first = indexes[0]
    more = f" (and {len(indexes) - 1} more in this array)" if len(indexes) > 1 else ""
    report(_problem(file, f"{key}[{first}]", f"{what}: {quoted(values[first])}{more}",
                    severity=severity,
                    hint="that value grants nothing; the rest of the policy applies"))


def _problem(file: str, key: str, message: str, severity: Severity = Severity.ERROR,
             hint: str = "this entry grants nothing; the rest of the policy applies"
             ) -> Diagnostic:
    return Diagnostic("entitlement-policy-invalid", message, file=file, key=key,
                      severity=severity, hint=hint)

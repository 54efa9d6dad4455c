"""Asserting a driver's fate on a booted host: bound, not bound, not matched, waiting, failed.

IOKit developers read the same facts off ``ioreg`` (is my driver attached, to which nub, with
what ``IOProbeScore``), ``kextutil -t`` (why a personality did not match) and the kernel log
(why ``start`` failed). Each assertion here checks one such fact and, when it fails, prints
the explanation for the nub concerned: every candidate personality with its score, outcome
and reason, as ``iokit explain`` shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from iokit_sdk import IOService, keys

from iokit_host.errors import Diagnostic, Severity
from iokit_host.matching.passive import PassiveMatch, match_passive

if TYPE_CHECKING:
    from iokit_host.host import IOKitHost

__all__ = [
    "FAILED_OUTCOMES",
    "assert_bound",
    "assert_failed",
    "assert_kext_refused",
    "assert_not_bound",
    "assert_not_matched",
    "assert_waiting",
    "drivers_named",
    "explain_text",
]

#: Candidate outcomes that mean the driver tried and could not run.
FAILED_OUTCOMES = frozenset({"start-failed", "probe-failed", "init-failed", "class-unknown",
                             "kext-load-failed", "not-entitled"})

NubRef = IOService | str


# -- queries ----------------------------------------------------------------------------------
def drivers_named(host: IOKitHost, driver: str) -> list[IOService]:
    """Active instances of class ``driver`` in the IOService plane, depth-first; a dext's
    service counts by its user class too (``IOUserClasses``, as ``ioreg -c`` reads it)."""
    return [s for s in _services(host) if not s.is_inactive() and (
        s.class_name() == driver or _user_class(s) == driver)]


def _user_class(service: IOService) -> str | None:
    classes = service.get_property("IOUserClasses")
    return classes[0] if isinstance(classes, list) and classes else None


def explain_text(host: IOKitHost, nub: IOService) -> str:
    """The explanation table for ``nub``: one line per candidate personality."""
    explained = host.explain(nub)
    records = explained.candidates
    header = f"explain {explained.provider} ({explained.provider_class}):"
    if not records:
        return header + "\n  no personality was a candidate (none has this IOProviderClass)"
    # One meaning per column, as ``iokit explain``: the score probe was offered, then its bid.
    rows = [("personality", "IOClass", "bundle", "initial", "score", "outcome", "reason")]
    rows += [(r.personality, r.io_class or "-", r.bundle or "-", str(r.initial_score),
              "-" if r.score is None else str(r.score), r.outcome, r.reason) for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[6]
             for row in rows]
    return "\n".join([header, *lines])


# -- assertions -------------------------------------------------------------------------------
def assert_bound(host: IOKitHost, driver: str, *, nub: NubRef | None = None,
                 score: int | None = None) -> IOService:
    """Assert an instance of ``driver`` is started, on ``nub`` when given; return it.

    :param score: also assert the winning probe score (the personality's ``IOProbeScore``
        after family matching and ``probe``).
    """
    target = _nub(host, nub) if nub is not None else None
    bound = [d for d in drivers_named(host, driver)
             if target is None or d.get_provider() is target]
    if not bound:
        where = f" on {_label(host, target)}" if target is not None else ""
        elsewhere = [_label(host, p) for d in drivers_named(host, driver)
                     if (p := d.get_provider()) is not None]
        note = f"\n{driver} is bound elsewhere: {', '.join(elsewhere)}" if elsewhere else ""
        _fail(f"{driver} is not bound{where}{note}", host, target, driver)
    instance = bound[0]
    if score is not None:
        provider = instance.get_provider()
        won = _record_for(host, provider, driver) if provider is not None else None
        actual = won.score if won is not None else instance.get_property(keys.PROBE_SCORE)
        if actual != score:
            _fail(f"{driver} is bound on {_label(host, provider)} with score {actual}, "
                  f"not {score}", host, provider, driver)
    return instance


def assert_not_bound(host: IOKitHost, driver: str, *, nub: NubRef | None = None) -> None:
    """Assert no active instance of ``driver`` is started (on ``nub`` when given)."""
    target = _nub(host, nub) if nub is not None else None
    bound = [d for d in drivers_named(host, driver)
             if target is None or d.get_provider() is target]
    if bound:
        provider = bound[0].get_provider()
        _fail(f"{driver} is bound on {_label(host, provider)}", host, provider, driver)


def assert_not_matched(host: IOKitHost, driver: str, *, nub: NubRef,
                       key: str | None = None) -> PassiveMatch:
    """Assert no personality with ``IOClass`` ``driver`` (or, a dext's, ``IOUserClass``)
    passively matches ``nub``.

    :param key: also assert which key failed (``IOProviderClass``, ``IONameMatch``,
        ``IOPCIMatch``, ...), as IOKit's matching reports the first key that fails.
    :returns: the failed match of the first such personality.
    """
    target = _nub(host, nub)
    tables = _personalities(host, driver)
    if not tables:
        _fail(f"no loaded personality has IOClass {driver}{_refusals(host)}", host, target,
              driver)
    results = [(name, match_passive(table, target, registry=host.registry))
               for name, table in tables]
    for name, result in results:
        if result.matched:
            _fail(f"personality {name} ({driver}) matches {_label(host, target)} with score "
                  f"{result.score}", host, target, driver)
    if key is not None and all(result.failed_key != key for _, result in results):
        why = "; ".join(f"{name}: {r.failed_key} ({r.reason})" for name, r in results)
        _fail(f"{driver} did not match {_label(host, target)}, but not because of {key}: "
              f"{why}", host, target, driver)
    return next(r for _, r in results if key is None or r.failed_key == key)


def assert_waiting(host: IOKitHost, driver: str, *, reason: str | None = None) -> Any:
    """Assert something of ``driver`` waits in the host's queue (a parked start, say).

    :param reason: a substring of the wait's reason or one of the resources it waits for.
    :returns: the waiting entry.
    """
    entries = [e for e in host.waiting if driver in e.subject]
    matching = [e for e in entries
                if reason is None or reason in e.reason or reason in e.resources]
    if not matching:
        queue = "\n".join(f"  {e.kind}: {e.subject}: {e.reason}" for e in host.waiting)
        wanted = f" for {reason!r}" if reason is not None else ""
        raise AssertionError(f"{driver} is not waiting{wanted}\nwaiting queue:\n"
                             + (queue or "  (empty)"))
    return matching[0]


def assert_failed(host: IOKitHost, driver: str, *, nub: NubRef | None = None,
                  reason: str | None = None) -> Any:
    """Assert ``driver`` was a candidate whose init, probe, start or kext load failed.

    :param reason: a substring of the recorded reason, or a diagnostic reference such as
        ``driver-start-raised``.
    :returns: the candidate's outcome record.
    """
    target = _nub(host, nub) if nub is not None else None
    nubs = [target] if target is not None else _services(host)
    failures = [(n, r) for n in nubs for r in _records(host, n)
                if r.io_class == driver and r.outcome in FAILED_OUTCOMES]
    references = {d.reference for d in host.diagnostics if driver in _about(d)}
    found = [(n, r) for n, r in failures
             if reason is None or reason in r.reason or reason in references]
    if not found:
        wanted = f" with {reason!r}" if reason is not None else ""
        _fail(f"{driver} did not fail{wanted}", host, target or _candidate_nub(host, driver),
              driver)
    return found[0][1]


def assert_kext_refused(host: IOKitHost, bundle_id: str, *,
                        reference: str | None = None) -> Diagnostic:
    """Assert the kext ``bundle_id`` was refused (manifest or dependency resolution).

    :param reference: the diagnostic's stable reference, e.g. ``kext-library-incompatible``.
    """
    errors = [d for d in host.diagnostics
              if d.subject == bundle_id and d.severity is Severity.ERROR]
    found = [d for d in errors if reference is None or d.reference == reference]
    if not found:
        listing = "\n".join(f"  {d}" for d in host.diagnostics) or "  (none)"
        wanted = f" with {reference}" if reference is not None else ""
        raise AssertionError(f"kext {bundle_id} was not refused{wanted}\ndiagnostics:\n"
                             + listing)
    return found[0]


# -- helpers ----------------------------------------------------------------------------------
def _services(host: IOKitHost) -> list[IOService]:
    return host.kernel.services()


def _nub(host: IOKitHost, nub: NubRef) -> IOService:
    if isinstance(nub, IOService):
        return nub
    found = host.find(nub)
    if found is None:
        names = sorted({s.get_name() for s in _services(host)})
        raise AssertionError(f"no nub {nub!r} in the registry; names: {', '.join(names)}")
    return found


def _label(host: IOKitHost, nub: IOService | None) -> str:
    if nub is None:
        return "?"
    location = nub.get_location()
    return nub.get_name() + (f"@{location}" if location else "")


def _records(host: IOKitHost, nub: IOService) -> Sequence[Any]:
    """The candidate outcome records for ``nub`` (``IOKitHost.explain``'s rows)."""
    return host.explain(nub).candidates


def _record_for(host: IOKitHost, nub: IOService, driver: str) -> Any:
    return next((r for r in _records(host, nub)
                 if r.io_class == driver and r.outcome == "started"), None)


def _personalities(host: IOKitHost, driver: str) -> list[tuple[str, Any]]:
    # A dext's personality names its driver in IOUserClass (IOClass is the kernel's proxy).
    return [(entry.name, entry.table) for entry in host.catalogue
            if entry.io_class == driver or entry.table.get("IOUserClass") == driver]


def _candidate_nub(host: IOKitHost, driver: str) -> IOService | None:
    return next((n for n in _services(host)
                 if any(r.io_class == driver for r in _records(host, n))), None)


def _about(diagnostic: Diagnostic) -> Iterable[str]:
    return " ".join(filter(None, (diagnostic.subject, diagnostic.key, diagnostic.message)))


def _refusals(host: IOKitHost) -> str:
    refused = [str(d) for d in host.diagnostics if d.severity is Severity.ERROR]
    return ("\nrefused:\n" + "\n".join(f"  {d}" for d in refused)) if refused else ""


def _fail(message: str, host: IOKitHost, nub: IOService | None, driver: str) -> NoReturn:
    parts = [message]
    shown = nub if nub is not None else _candidate_nub(host, driver)
    if shown is not None:
        parts.append(explain_text(host, shown))
    refusals = _refusals(host)
    if refusals and refusals not in message:
        parts.append(refusals.strip())
    raise AssertionError("\n".join(parts))

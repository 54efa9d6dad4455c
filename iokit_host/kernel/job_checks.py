"""What a work-loop job's driver code changed in the host, looked at after each job (the
command gate's ``runAction`` returning: the kernel's own state is checked before the next
action, here because kexts share the host's Python process).

Each check puts back what it finds and says so, naming the nub the job matched: the standard
streams (fds 0-2 and the ``sys`` objects, :class:`~.stdio_guard.StdioGuard`), the SDK's and
host's entries in ``sys.modules`` (:class:`~.host_fence.ModuleGuard`), the import system's
finders and path hooks (:mod:`.import_guard`), the working directory (:mod:`.workdir_guard`),
the interval timers a driver armed (too dear to read after each driver call,
:mod:`.interpreter_hooks`), the process-wide settings (signal mask, warning filters, hooks,
builtins, environment, umask, limits: :mod:`.process_state`) and the SDK's value classes,
which no driver call checks (:mod:`.class_seal`).

Driver code run outside the jobs is checked so too (:class:`Work`: power changes, a running
kernel's requests); a :class:`Period` shares one set of checks among many such runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar

from iokit_sdk.service import IOService

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kernel.class_seal import SEALED_HINT, ClassSeal, changed_classes
from iokit_host.kernel.driver_calls import described, service_name
from iokit_host.kernel.host_fence import ModuleGuard
from iokit_host.kernel.import_guard import REMOVED_HINT, ImportGuard
from iokit_host.kernel.interpreter_hooks import HOOKS_HINT, disarm_timers, pending_timers
from iokit_host.kernel.process_state import PROCESS_HINT, ProcessState
from iokit_host.kernel.stdio_guard import StdioGuard
from iokit_host.kernel.workdir_guard import WORKDIR_HINT, WorkdirGuard

__all__ = ["CHECK_EVERY", "JobChecks", "Period", "Work"]

T = TypeVar("T")

Job = Callable[[], Any]
_EXPLAIN = "(iokit explain names the drivers of that nub)"


class JobChecks:
    """The checks of one run of the work loop, taken when it begins (a test harness swaps
    the streams between runs); :meth:`close` when it ends."""

    def __init__(self, seal: ClassSeal, report: Callable[[Diagnostic], None],
                 calls: Iterator[int] | None = None) -> None:
        self._streams = StdioGuard()
        self._modules = ModuleGuard()
        self._imports = ImportGuard()
        self._workdir = WorkdirGuard()
        self._timers = pending_timers()  # the host's (or a harness's): left alone
        self._process = ProcessState()
        #: The jobs since the process-wide settings were compared that ran driver code, to
        #: blame: they are compared every :data:`CHECK_EVERY` jobs (after each, they cost 12%
        #: of a boot's work loop). ``calls`` counts driver calls (the watchdog's tokens): a
        #: job that made none changed nothing.
        self._unsettled: list[Job] = []
        self._since = 0
        self._calls = calls
        self._mark = next(calls) if calls is not None else 0
        self._seal = seal
        self._report = report
        if not seal.intact():  # changed by the host itself since: its to change
            seal.refresh()

    def after(self, job: Job, *, settings: bool = False) -> None:
        """Look for what ``job`` changed; put each back and report it. The process-wide
        settings are compared after every :data:`CHECK_EVERY`-th job, or now when
        ``settings`` (``job`` stands for many: :class:`Period`)."""
        streams = self._streams
        changed = [] if streams.kept() else streams.check()
        if changed:
            self._say(job, f"closed, redirected or reconfigured the host's standard streams "
                           f"({', '.join(changed)})",
                      "a kext shares the kernel's process: it must not close, redirect or "
                      "reconfigure fds 0-2 or sys.stdin, sys.stdout and sys.stderr, nor "
                      "replace them")
        lost = self._modules.check()
        if lost:
            shown = ", ".join(lost[:4]) + (f" and {len(lost) - 4} more" if len(lost) > 4
                                           else "")
            self._say(job, f"deleted or replaced {len(lost)} of the shared modules in "
                           f"sys.modules ({shown})",
                      "a kext shares the kernel's process: the SDK's modules are every "
                      "driver's")
        removed = self._imports.check(_job_subject(job)[1], self._report) \
            if self._imports.changed() else []
        if removed:
            self._say(job, f"removed the host's {', '.join(removed[:4])}", REMOVED_HINT)
        moved = self._workdir.check()
        if moved:
            self._say(job, moved.what, WORKDIR_HINT, done=moved.done)
        cancelled = disarm_timers(keep=self._timers)
        if cancelled:
            self._say(job, ", ".join(cancelled), HOOKS_HINT)
        calls = self._calls
        if calls is None or settings:
            self._unsettled.append(job)
        else:
            mark = next(calls)
            if mark != self._mark + 1:  # driver calls took tokens in between
                self._unsettled.append(job)
            self._mark = mark
        self._since += 1
        if settings or self._since >= CHECK_EVERY:
            self._settings()
        if not self._seal.intact():  # the value classes: no driver call checks them
            changes = self._seal.repair()
            if changes:
                self._say(job, changed_classes(changes), SEALED_HINT, Severity.ERROR)

    def streams_kept(self) -> bool:
        """The cheapest check, of the ``sys`` stream objects alone (no system call)."""
        return self._streams.objects_kept()

    def close(self) -> None:
        self._streams.close()
        if self._since:
            self._settings()

    def _settings(self) -> None:
        """Compare the process-wide settings, blaming the jobs since they last were."""
        changed = self._process.check()
        if changed:
            kept = any("(not put back" in phrase for phrase in changed)
            self._say(_jobs_blamed(self._unsettled), ", ".join(changed), PROCESS_HINT,
                      done="the rest put back" if kept else "put back")
        self._unsettled.clear()
        self._since = 0

    def _say(self, job: Job, what: str, hint: str, severity: Severity = Severity.WARNING,
             *, done: str = "put back") -> None:
        nub, where = _job_subject(job)
        driver = job.service if isinstance(job, Work) else None
        subject = driver if driver is not None else nub
        self._report(Diagnostic(
            "driver-changed-host", f"driver code run {where} {what}; {done}",
            subject=subject.iokit_class_name if subject is not None else None,
            hint=f"{hint} {_EXPLAIN}" if nub is not None else hint, severity=severity))


class Work:
    """Driver code the kernel runs outside its work loop's jobs (power changes, a client's
    request), to be checked as a job is: :meth:`JobChecks.after` says ``where`` it ran and,
    when it is known, the ``service`` whose driver code it was."""

    __slots__ = ("run", "service", "where")

    def __init__(self, run: Job, where: str, service: IOService | None = None) -> None:
        self.run = run
        self.where = where
        self.service = service

    def __call__(self) -> Any:
        return self.run()


#: Runs a :class:`Period` lets pass between checks (each costs a few microseconds, a
#: client's call into the kernel about fifteen).
CHECK_EVERY = 16


class Period:
    """Checks shared by many runs of driver code (a running kernel's requests): taken after
    every :data:`CHECK_EVERY`-th run, after a run that reported something (its diagnostic is
    printed next: the streams must be the host's by then), after one that replaced or closed
    a ``sys`` stream (seen without a system call) and when the period ends. What a check
    finds is said of the drivers run since the one before."""

    def __init__(self, checks: JobChecks, diagnostics: list[Diagnostic]) -> None:
        self.checks = checks
        self._diagnostics = diagnostics
        #: How many runs since the last check; the first one's place and driver; and every
        #: run's, once one differs from the first (a client calling one driver's methods
        #: makes none: nothing per run but a count, and no list to sum up at each check).
        self._count = 0
        self._first: tuple[str, IOService | None] = ("", None)
        self._runs: list[tuple[str, IOService | None]] = []

    def run(self, work: Callable[[], T], where: str, service: IOService | None) -> T:
        reported = len(self._diagnostics)
        try:
            return work()
        finally:
            self._count += 1
            first = self._first
            if self._count == 1:
                self._first = (where, service)
            elif self._runs:
                self._runs.append((where, service))
            elif first[0] is not where or first[1] is not service:
                self._runs.extend([first] * (self._count - 1))
                self._runs.append((where, service))
            if not self.checks.streams_kept():  # this run's doing: they were before it
                self._count, self._first = 1, (where, service)
                self._runs.clear()
                self.check()
            elif self._count >= CHECK_EVERY or len(self._diagnostics) != reported:
                self.check()

    def check(self) -> None:
        """Check now, for the runs since the last check."""
        if self._count:
            job = _blamed(self._runs) if self._runs else Work(_nothing, *self._first)
            self._count = 0
            self._runs.clear()
            self.checks.after(job, settings=True)

    def close(self) -> None:
        self.check()
        self.checks.close()


def _blamed(runs: list[tuple[str, IOService | None]]) -> Work:
    """The runs since the last check as one, for a diagnostic: where they ran (each place
    once) and the one driver whose code they all were, or the drivers among them."""
    wheres = sorted({where for where, _ in runs})
    where = wheres[0] if len(wheres) == 1 else f"({'; '.join(wheres[:3])})"
    services = {id(service): service for _, service in runs if service is not None}
    if len(services) == 1 and all(service is not None for _, service in runs):
        return Work(_nothing, where, next(iter(services.values())))
    if not services:
        return Work(_nothing, where)
    names = ", ".join(sorted({service_name(service) for service in services.values()})[:4])
    return Work(_nothing, f"in one of {names} {where}")


def _jobs_blamed(jobs: list[Job]) -> Job:
    """The work-loop jobs that ran driver code since the settings were last compared, as
    one for a diagnostic: the one job, or the nubs they matched."""
    if len(jobs) == 1:
        return jobs[0]
    if not jobs:  # a driver's thread, or a finalizer the collector ran
        return Work(_nothing, "outside any driver call during the work loop's jobs")
    subjects = [_job_subject(job) for job in jobs]
    # In the jobs' order, each once: at most CHECK_EVERY, all said (the culprit is one).
    nubs = list(dict.fromkeys(service_name(nub) for nub, _ in subjects if nub is not None))
    if not nubs:
        return Work(_nothing, "during the work loop's jobs")
    shown = ", ".join(nubs)
    return Work(_nothing, f"while the kernel matched one of {shown}")


def _nothing() -> None:
    """What a :class:`Work` that only names runs already made does."""


def _job_subject(job: Job) -> tuple[IOService | None, str]:
    """The nub a work-loop job matched, and where its drivers ran, for a diagnostic."""
    if isinstance(job, Work):
        if job.service is not None:
            return None, f"in {described(job.service)} {job.where}"
        return None, job.where
    nub = job.args[0] if isinstance(job, partial) and job.args else None
    if isinstance(nub, IOService):
        return nub, f"while the kernel matched {service_name(nub)}"
    return None, "during a work-loop job"

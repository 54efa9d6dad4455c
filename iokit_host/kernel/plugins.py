"""The plugin manager: the built-in plugin that drives drivers, plus host plugins (pytest's pattern).

Every lifecycle call the kernel makes is a hook of project ``iokit`` (specs in
:mod:`iokit_sdk.hookspecs`). The :class:`BuiltinPlugin` implements each one by calling the
method of the service it receives, ``trylast``, so a host plugin can wrap any call
(``wrapper=True``: tracing, timing, fault injection) or answer it first (``tryfirst``) in a
test. Host plugins come from the entry-point group ``iokit`` and from the host's
``plugins=`` argument; names in ``IOKIT_DISABLE_PLUGINS`` (comma-separated) or
``disable_plugins=`` are blocked. ``IOKIT_TRACE_HOOKS=1`` prints every hook call to stderr.

Host plugins are third-party code, isolated as DriverKit isolates dexts: each is admitted on
its own (:mod:`.plugin_admission`: one that cannot load or that pluggy refuses is reported and
left out) and runs behind the fence (:mod:`.plugin_fence`: one that raises in a hook is
reported, set aside, and the call goes on as if it were not there). The built-in plugin is
not fenced: a driver's exception is the driver's failure, which the kernel handles.

One manager per host, built once: the per-call path is a cached ``HookCaller`` and one
implementation, never ``call_extra`` or a manager per call (see DESIGN.md's measured costs).
:class:`HostPluginManager` counts the changes that can make a hook call observable
(registering, unregistering, hook-call monitoring), so the kernel can skip a matching
notification that only the built-in plugin implements while no notifier is installed, and make
a lifecycle call the built-in plugin alone implements as the method call it comes to
(:meth:`HostPluginManager.caller`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy
from iokit_sdk import hookspecs
from iokit_sdk.hookspecs import PROJECT, hookimpl

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kernel.plugin_admission import (
    admit,
    describe_plugin,
    entry_point_plugins,
    error_text,
    load_entry_point,
)
from iokit_host.kernel.plugin_fence import Breach, PluginFence
from iokit_host.power.hooks import PowerHooks
from iokit_host.settings import env_flag

if TYPE_CHECKING:
    from iokit_sdk.service import IOService
    from iokit_sdk.userclient import IOExternalMethodArguments, IOUserClient

    from iokit_host.kernel.protocol import WorkLoop

__all__ = ["BUILTIN_PLUGIN_NAME", "BuiltinPlugin", "HostPluginManager",
           "disabled_plugin_names", "make_plugin_manager"]

BUILTIN_PLUGIN_NAME = "iokit-builtin"


class BuiltinPlugin(PowerHooks):
    """Forwards each hook to the service's own method; registry changes go to the kernel."""

    def __init__(self, kernel: WorkLoop) -> None:
        self._kernel = kernel
        self._notifications = kernel.notifications

    @hookimpl(trylast=True)
    def iokit_init(self, service: IOService, properties: Mapping[str, Any]) -> bool:
        return service.init(properties)

    @hookimpl(trylast=True)
    def iokit_attach(self, service: IOService, provider: IOService) -> bool:
        return self._kernel.link(service, provider)

    @hookimpl(trylast=True)
    def iokit_probe(self, service: IOService, provider: IOService, score: int) -> int | None:
        return service.probe(provider, score)

    @hookimpl(trylast=True)
    def iokit_start(self, service: IOService, provider: IOService) -> bool:
        return service.start(provider)

    @hookimpl(trylast=True)
    def iokit_stop(self, service: IOService, provider: IOService) -> None:
        service.stop(provider)

    @hookimpl(trylast=True)
    def iokit_detach(self, service: IOService, provider: IOService) -> None:
        self._kernel.unlink(service, provider)

    @hookimpl(trylast=True)
    def iokit_free(self, service: IOService) -> None:
        service.free()

    @hookimpl(trylast=True)
    def iokit_register_service(self, service: IOService, options: int) -> bool:
        return self._kernel.start_matching(service, options)

    @hookimpl(trylast=True)
    def iokit_will_terminate(self, service: IOService, provider: IOService, options: int) -> bool:
        return service.will_terminate(provider, options)

    @hookimpl(trylast=True)
    def iokit_did_terminate(self, service: IOService, provider: IOService, options: int) -> bool:
        return service.did_terminate(provider, options)

    # Matching notifications: deliver to the notifiers installed on this host.
    @hookimpl(trylast=True)
    def iokit_publish(self, service: IOService) -> None:
        self._notifications.deliver("publish", service)

    @hookimpl(trylast=True)
    def iokit_first_publish(self, service: IOService) -> None:
        self._notifications.deliver("first_publish", service)

    @hookimpl(trylast=True)
    def iokit_matched(self, service: IOService) -> None:
        self._notifications.deliver("matched", service)

    @hookimpl(trylast=True)
    def iokit_first_match(self, service: IOService) -> None:
        self._notifications.deliver("first_match", service)

    @hookimpl(trylast=True)
    def iokit_terminated(self, service: IOService) -> None:
        self._notifications.deliver("terminated", service)

    # User clients: the service's or client's own method (iokit_host.userclient calls them).
    @hookimpl(trylast=True)
    def iokit_new_user_client(self, service: IOService, owning_task: Any, security_id: Any,
                              type: int, properties: Mapping[str, Any] | None) -> Any:
        return service.new_user_client(owning_task, security_id, type, properties)

    @hookimpl(trylast=True)
    def iokit_external_method(self, service: IOUserClient, selector: int,
                              arguments: IOExternalMethodArguments) -> int:
        return service.external_method(selector, arguments)

    @hookimpl(trylast=True)
    def iokit_client_close(self, service: IOUserClient) -> int:
        return service.client_close()

    @hookimpl(trylast=True)
    def iokit_client_died(self, service: IOUserClient) -> int:
        return service.client_died()


class HostPluginManager(pluggy.PluginManager):
    """pluggy's manager plus :attr:`generation`, bumped whenever the set of code that sees a
    hook call may have changed: a plugin registered or unregistered, monitoring (tracing)
    added or undone. The subclassing pattern is pytest's ``PytestPluginManager``.

    Every hook call runs through a :class:`~iokit_host.kernel.plugin_fence.PluginFence`: a
    host plugin that raises in any hook is reported to ``report`` as ``host-plugin-raised``
    and unregistered after that call, which goes on as if the plugin were not there.
    """

    def __init__(self, project_name: str,
                 report: Callable[[Diagnostic], None] | None = None) -> None:
        super().__init__(project_name)
        self.generation = 0
        self.monitored = 0
        #: plugin name -> what to do about it when it fails (entry points: its distribution).
        self.hints: dict[str, str] = {}
        self._report = report or (lambda diagnostic: None)
        self._fence = PluginFence(BUILTIN_PLUGIN_NAME, self._set_aside)
        #: :meth:`builtin_alone`'s and :meth:`caller`'s answers, for :attr:`generation`
        #: ``_alone_generation``.
        self._alone: dict[str, bool] = {}
        self._callers: dict[str, Callable[..., Any]] = {}
        self._alone_generation = -1
        # pluggy's call loop, fenced; add_hookcall_monitoring wraps whatever is here.
        self._inner_hookexec = self._fence.multicall

    def register(self, plugin: object, name: str | None = None) -> str | None:
        self.generation += 1
        registered = super().register(plugin, name)
        if registered is not None:
            self._fence.aside.discard(registered)  # a new plugin under a set-aside name
        return registered

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        self.generation += 1
        return super().unregister(plugin, name)

    def _set_aside(self, breaches: list[Breach]) -> None:
        """Report each plugin that raised in the hook call just over, and unregister it."""
        for breach in breaches:
            self._report(self._raised(breach))
            if self.get_plugin(breach.plugin_name) is breach.plugin:
                try:
                    self.unregister(breach.plugin, breach.plugin_name)
                except Exception:  # noqa: BLE001,S110 - pluggy compares plugins with ==, which
                    pass  # a plugin may break; it stays set aside by name all the same

    def _raised(self, breach: Breach) -> Diagnostic:
        name = breach.plugin_name
        return Diagnostic(
            "host-plugin-raised", f"host plugin {name!r} ({describe_plugin(breach.plugin)}) "
            f"{_what_happened(breach)}; it is set aside and the call went on without it",
            key=breach.hook_name, subject=name, severity=Severity.WARNING,
            context={"exception": breach.error},
            hint=self.hints.get(name, "fix the plugin, or leave it out of plugins="))

    def add_hookcall_monitoring(self, before: Any, after: Any) -> Callable[[], None]:
        undo_monitoring = super().add_hookcall_monitoring(before, after)
        self.generation += 1
        self.monitored += 1

        def undo() -> None:
            undo_monitoring()
            self.generation += 1
            self.monitored -= 1
        return undo

    def only_builtin(self, hook_name: str) -> bool:
        """True when the built-in plugin is the only implementation of ``hook_name`` and no
        monitor watches hook calls: such a call has no effect beyond the built-in one."""
        if self.monitored:
            return False
        impls = getattr(self.hook, hook_name).get_hookimpls()
        return len(impls) == 1 and impls[0].plugin_name == BUILTIN_PLUGIN_NAME

    def builtin_alone(self, hook_name: str) -> bool:
        """:meth:`only_builtin`, remembered until a plugin or a monitor comes or goes (each
        bumps :attr:`generation`): a hot path asks it per call, and then calls the built-in
        plugin's method itself, which is all the hook call would do."""
        if self._alone_generation != self.generation:
            self._forget_answers()
        alone = self._alone.get(hook_name)
        if alone is None:
            alone = self._alone[hook_name] = self.only_builtin(hook_name)
        return alone

    def caller(self, hook_name: str) -> Callable[..., Any]:
        """What to call for ``hook_name``, with the hook's keyword arguments: its hook caller,
        or while the built-in plugin is alone (:meth:`builtin_alone`) the built-in plugin's
        implementation itself, which is all the hook call would run (the fence runs it so,
        :mod:`.plugin_fence`). A matching pass makes several lifecycle calls per driver; each
        is then a method call instead of pluggy's argument checks and call loop. (A hook
        that is not ``firstresult``, as ``iokit_stop``, gives its list through the caller
        and None through the method; the kernel reads neither.)"""
        if self._alone_generation != self.generation:
            self._forget_answers()
        found = self._callers.get(hook_name)
        if found is None:
            hook = getattr(self.hook, hook_name)
            found = hook.get_hookimpls()[0].function if self.builtin_alone(hook_name) else hook
            self._callers[hook_name] = found
        return found

    def _forget_answers(self) -> None:
        self._alone.clear()
        self._callers.clear()
        self._alone_generation = self.generation


def _what_happened(breach: Breach) -> str:
    if breach.phase in ("did not yield", "yielded twice"):
        return f"is a wrapper that {breach.phase}"
    where = f" {breach.phase.replace(' ', ' its ')}" if breach.phase != "call" else ""
    return f"raised {error_text(breach.error)}{where}"


def disabled_plugin_names(extra: Iterable[str] = ()) -> frozenset[str]:
    """Names blocked by ``IOKIT_DISABLE_PLUGINS`` plus ``extra``."""
    from_env = os.environ.get("IOKIT_DISABLE_PLUGINS", "")
    names = {n.strip() for n in from_env.split(",") if n.strip()}
    return frozenset(names | set(extra))


def make_plugin_manager(kernel: WorkLoop, *, plugins: Iterable[object] = (),
                        disable: Iterable[str] = (), load_entry_points: bool = True,
                        report: Callable[[Diagnostic], None] | None = None,
                        ) -> HostPluginManager:
    """Build the host's manager: specs, the built-in plugin, entry-point and given plugins.

    :param plugins: plugin objects (modules or instances) to register after the built-in one.
    :param disable: plugin names to block (the built-in plugin cannot be blocked).
    :param report: receives a warning for each plugin that cannot be loaded
        (``host-plugin-failed``), is refused (``host-plugin-invalid``, ``host-plugin-no-hooks``)
        or raises in a hook later (``host-plugin-raised``); the others still load and run.
    """
    report = report or (lambda diagnostic: None)
    manager = HostPluginManager(PROJECT, report)
    manager.add_hookspecs(hookspecs)
    manager.register(BuiltinPlugin(kernel), name=BUILTIN_PLUGIN_NAME)
    blocked = disabled_plugin_names(disable) - {BUILTIN_PLUGIN_NAME}
    for name in blocked:
        manager.set_blocked(name)
    if load_entry_points:
        _load_entry_point_plugins(manager, report)
    for plugin in plugins:
        admit(manager, plugin, report)
    manager.check_pending()  # pluggy's own check; admit() has set aside what it would refuse
    if env_flag("IOKIT_TRACE_HOOKS"):
        _enable_tracing(manager)
    return manager


def _load_entry_point_plugins(manager: HostPluginManager,
                              report: Callable[[Diagnostic], None]) -> None:
    """Load and admit each ``iokit`` entry point on its own, unlike pluggy's
    ``load_setuptools_entrypoints``, so one broken plugin package never takes the host down."""
    for entry in entry_point_plugins(report):
        if manager.get_plugin(entry.name) is not None or manager.is_blocked(entry.name):
            continue
        hint = (f"fix or uninstall {entry.distribution}, or block it with "
                f"IOKIT_DISABLE_PLUGINS={entry.name}")
        loaded = load_entry_point(entry, report)
        if loaded is not None and admit(manager, loaded[0], report, name=entry.name, hint=hint):
            manager.hints[entry.name] = hint


def _enable_tracing(manager: pluggy.PluginManager) -> None:
    def before(hook_name: str, impls: Any, kwargs: Mapping[str, Any]) -> None:
        service = kwargs.get("service")
        try:
            shown = repr(service)
        except Exception:  # noqa: BLE001 - a driver's __repr__ must not fail the call it traces
            shown = f"<{type(service).__name__}>"
        print(f"iokit: {hook_name}({shown})", file=sys.stderr)

    def after(outcome: Any, hook_name: str, impls: Any, kwargs: Mapping[str, Any]) -> None:
        pass

    manager.add_hookcall_monitoring(before, after)

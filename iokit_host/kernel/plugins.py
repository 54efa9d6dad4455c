"""The plugin manager: the built-in plugin that drives drivers, plus host plugins (pytest's pattern).

Every lifecycle call the kernel makes is a hook of project ``iokit`` (specs in
:mod:`iokit_sdk.hookspecs`). The :class:`BuiltinPlugin` implements each one by calling the
method of the service it receives, ``trylast``, so a host plugin can wrap any call
(``wrapper=True``: tracing, timing, fault injection) or answer it first (``tryfirst``) in a
test. Host plugins come from the entry-point group ``iokit`` and from the host's
``plugins=`` argument; names in ``IOKIT_DISABLE_PLUGINS`` (comma-separated) or
``disable_plugins=`` are blocked. ``IOKIT_TRACE_HOOKS=1`` prints every hook call to stderr.

One manager per host, built once: the per-call path is a cached ``HookCaller`` and one
implementation, never ``call_extra`` or a manager per call (see DESIGN.md's measured costs).
:class:`HostPluginManager` counts the changes that can make a hook call observable
(registering, unregistering, hook-call monitoring), so the kernel can skip a matching
notification that only the built-in plugin implements while no notifier is installed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pluggy
from iokit_sdk import hookspecs
from iokit_sdk.hookspecs import PROJECT, hookimpl

from iokit_host.errors import Diagnostic
from iokit_host.settings import env_flag

if TYPE_CHECKING:
    from iokit_sdk.service import IOService

    from iokit_host.kernel.protocol import WorkLoop

__all__ = ["BUILTIN_PLUGIN_NAME", "BuiltinPlugin", "HostPluginManager",
           "disabled_plugin_names", "make_plugin_manager"]

BUILTIN_PLUGIN_NAME = "iokit-builtin"
ENTRY_POINT_GROUP = PROJECT


class BuiltinPlugin:
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


class HostPluginManager(pluggy.PluginManager):
    """pluggy's manager plus :attr:`generation`, bumped whenever the set of code that sees a
    hook call may have changed: a plugin registered or unregistered, monitoring (tracing)
    added or undone. The subclassing pattern is pytest's ``PytestPluginManager``."""

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        self.generation = 0
        self.monitored = 0

    def register(self, plugin: object, name: str | None = None) -> str | None:
        self.generation += 1
        return super().register(plugin, name)

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        self.generation += 1
        return super().unregister(plugin, name)

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
    :param report: receives a ``host-plugin-failed`` diagnostic for each entry-point plugin
        that cannot be imported or registered; the others still load.
    """
    manager = HostPluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(BuiltinPlugin(kernel), name=BUILTIN_PLUGIN_NAME)
    blocked = disabled_plugin_names(disable) - {BUILTIN_PLUGIN_NAME}
    for name in blocked:
        manager.set_blocked(name)
    if load_entry_points:
        _load_entry_point_plugins(manager, report or (lambda diagnostic: None))
    for plugin in plugins:
        name = manager.get_canonical_name(plugin)
        if name not in blocked and not manager.is_registered(plugin):
            manager.register(plugin)
    manager.check_pending()
    if env_flag("IOKIT_TRACE_HOOKS"):
        _enable_tracing(manager)
    return manager


def _load_entry_point_plugins(manager: pluggy.PluginManager,
                              report: Callable[[Diagnostic], None]) -> None:
    """Register each ``iokit`` entry point on its own, unlike pluggy's
    ``load_setuptools_entrypoints``, so one broken plugin package never takes the host down."""
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if manager.get_plugin(entry_point.name) is not None or manager.is_blocked(
                entry_point.name):
            continue
        try:
            manager.register(entry_point.load(), name=entry_point.name)
        except Exception as error:  # noqa: BLE001 - any failure of third-party code is reported
            dist = entry_point.dist.name if entry_point.dist else "?"
            report(Diagnostic(
                "host-plugin-failed", f"host plugin {entry_point.name!r} ({entry_point.value}) "
                f"could not be loaded: {type(error).__name__}: {error}", subject=dist,
                key=f"entry point {ENTRY_POINT_GROUP}:{entry_point.name}",
                hint=f"fix or uninstall {dist}, or block it with "
                     f"IOKIT_DISABLE_PLUGINS={entry_point.name}"))


def _enable_tracing(manager: pluggy.PluginManager) -> None:
    def before(hook_name: str, impls: Any, kwargs: Mapping[str, Any]) -> None:
        service = kwargs.get("service")
        print(f"iokit: {hook_name}({service!r})", file=sys.stderr)

    def after(outcome: Any, hook_name: str, impls: Any, kwargs: Mapping[str, Any]) -> None:
        pass

    manager.add_hookcall_monitoring(before, after)

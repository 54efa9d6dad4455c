"""Admitting host plugins: the ``iokit`` entry points, loaded and checked one at a time.

kextd checks each kext on its own before loading it (``OSKext::validateKextMapping``,
``isCompatibleWithVersion``) and one bad bundle never stops the others; the host does the
same for host plugins, whether they come from the entry-point group ``iokit`` or from the
host's ``plugins=`` argument:

- an entry point that cannot be loaded (its module raises on import, even ``SystemExit``; its
  value names nothing; its distribution's ``entry_points.txt`` is not UTF-8) is reported as
  ``host-plugin-failed``;
- a plugin pluggy refuses at registration (an argument its hookspec does not have, a wrapper
  that is not a generator), that implements a hook no spec declares (pluggy's
  ``check_pending``: usually a typo), or marks with ``@hookimpl`` something pluggy cannot call,
  is reported as ``host-plugin-invalid`` and not registered;
- a plugin with no ``@hookimpl`` of project ``iokit`` at all (a name passed instead of the
  object, the marker of another project) is ``host-plugin-no-hooks``, and not registered.

All are warnings that name the plugin, with a hint; every other plugin still loads.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator

import pluggy
from iokit_sdk.hookspecs import PROJECT

from iokit_host.errors import Diagnostic, Severity, did_you_mean
from iokit_host.kext.host_plugins import ENTRY_POINT_GROUP, DamagedEntryPoints, EntryPointPlugin

__all__ = ["ENTRY_POINT_GROUP", "EntryPointPlugin", "admit", "describe_plugin",
           "entry_point_plugins", "load_entry_point"]

_MARKER = f"{PROJECT}_impl"

Report = Callable[[Diagnostic], None]


def entry_point_plugins(report: Report) -> Iterator[EntryPointPlugin]:
    """Every ``iokit`` entry point of the installed distributions, first of a name wins.

    From the install index when it is fresh (:mod:`iokit_host.kext.install_index`), else
    from a walk over the distributions (:mod:`iokit_host.kext.host_plugins`); a damaged file
    is reported where the walk met it."""
    from iokit_host.kext.install_index import host_plugins

    for item in host_plugins().found:
        if isinstance(item, DamagedEntryPoints):
            report(_unreadable(item.distribution, item.file))
        else:
            yield item



def load_entry_point(entry: EntryPointPlugin, report: Report) -> tuple[object] | None:
    """Import the object ``entry`` names, as a 1-tuple (it may be None itself); None,
    reported, when that fails in any way."""
    try:
        from importlib import metadata

        plugin: object = metadata.EntryPoint(entry.name, entry.value, ENTRY_POINT_GROUP).load()
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - an import may raise anything, SystemExit too
        report(Diagnostic(
            "host-plugin-failed", f"host plugin {entry.name!r} ({entry.value}) could not be "
            f"loaded: {error_text(error)}", subject=entry.distribution,
            key=f"entry point {ENTRY_POINT_GROUP}:{entry.name}", severity=Severity.WARNING,
            hint=f"fix or uninstall {entry.distribution}, or block it with "
                 f"IOKIT_DISABLE_PLUGINS={entry.name}"))
        return None
    return (plugin,)


def admit(manager: pluggy.PluginManager, plugin: object, report: Report, *,
          name: str | None = None, hint: str | None = None) -> str | None:
    """Register ``plugin`` when it passes pluggy's checks and has hooks; else report it.

    :param hint: what to do about a refused plugin (default: fix it or leave it out).
    :returns: the name it is registered under, or None.
    """
    label = name or _canonical_name(manager, plugin)
    hint = hint or "fix the plugin, or leave it out of plugins="
    if plugin is None:  # pluggy ignores None without a word
        report(_no_hooks(label, plugin))
        return None
    already = [n for n, p in manager.list_name_plugin() if p is plugin]  # no ==: plugin code
    if already:
        return already[0]
    try:
        registered = manager.register(plugin, name)
        problems = _problems(manager, plugin) if registered is not None else []
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - pluggy's refusal, or the plugin's own code
        registered, problems = label, [f"was refused: {error_text(error)}"]
    if problems:
        _forget(manager, plugin)
        report(_invalid(registered or label, plugin, "; ".join(problems), hint))
        return None
    if registered is not None and not manager.get_hookcallers(plugin):
        _forget(manager, plugin)
        report(_no_hooks(registered, plugin))
        return None
    return registered  # None: blocked by name


def describe_plugin(plugin: object) -> str:
    """``module x``, ``class x.C`` or ``x.C object``: what a plugin is, without running its
    code (no ``repr``)."""
    try:
        if inspect.ismodule(plugin):
            return f"module {plugin.__name__}"
        cls = plugin if inspect.isclass(plugin) else type(plugin)
        where = f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', '?')}"
    except Exception:  # noqa: BLE001 - a plugin whose __class__ or __name__ raises
        return f"{type(plugin).__qualname__} object"
    return f"class {where}" if cls is plugin else f"{where} object"


def error_text(error: BaseException, limit: int = 300) -> str:
    """``Type: message`` of an exception from third-party code, whose ``str`` may itself fail."""
    try:
        message = str(error)
    except Exception:  # noqa: BLE001 - a broken __str__ must not hide the report
        message = "<message could not be rendered>"
    message = message if len(message) <= limit else message[:limit] + "..."
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


# -- checks ---------------------------------------------------------------------------------
def _problems(manager: pluggy.PluginManager, plugin: object) -> list[str]:
    """What is wrong with a registered plugin, beyond what pluggy's ``register`` refuses."""
    return (_unknown_hooks(manager, plugin) + _uncallable_marks(manager, plugin)
            + _class_not_instance(manager, plugin))


def _unknown_hooks(manager: pluggy.PluginManager, plugin: object) -> list[str]:
    """Hooks ``plugin`` implements that no spec declares (what ``check_pending`` refuses)."""
    known = [n for n, caller in vars(manager.hook).items() if caller.has_spec()]
    problems = []
    for caller in manager.get_hookcallers(plugin) or []:
        if caller.has_spec() or all(i.optionalhook for i in caller.get_hookimpls()
                                    if i.plugin is plugin):
            continue
        guess = did_you_mean(caller.name, known)
        problems.append(f"implements {caller.name!r}, which is not a hook"
                        + (f" ({guess})" if guess else ""))
    return problems


def _uncallable_marks(manager: pluggy.PluginManager, plugin: object) -> list[str]:
    """Attributes marked ``@hookimpl`` that pluggy skipped: not a function or method."""
    implemented = {caller.name for caller in manager.get_hookcallers(plugin) or []}
    problems = []
    try:
        attributes = dir(plugin)
    except Exception:  # noqa: BLE001 - pluggy's own dir() worked; a second call may not
        return []
    for attribute in attributes:
        opts, kind = _marker(plugin, attribute)
        hook = opts and (opts.get("specname") or attribute)
        if hook and hook not in implemented:
            problems.append(f"marks {attribute!r} with @hookimpl, but it is a {kind}, not "
                            "a function pluggy can call")
    return problems


def _class_not_instance(manager: pluggy.PluginManager, plugin: object) -> list[str]:
    """A class passed where an instance belongs: its hook methods would be called without
    ``self`` and fail at every call."""
    if not inspect.isclass(plugin):
        return []
    methods = sorted({impl.function.__name__ for caller in manager.get_hookcallers(plugin) or []
                      for impl in caller.get_hookimpls()
                      if impl.plugin is plugin and _takes_self(impl.function)})
    if not methods:
        return []
    cls = plugin.__name__
    return [(f"is a class whose hook methods ({', '.join(methods)}) need an instance: pass "
             f"{cls}(), not {cls}")]


def _takes_self(function: object) -> bool:
    if not inspect.isfunction(function):
        return False
    try:
        return next(iter(inspect.signature(function).parameters), "") == "self"
    except (TypeError, ValueError):
        return False


def _marker(plugin: object, attribute: str) -> tuple[dict[str, object] | None, str]:
    """The hookimpl options marked on ``plugin.attribute`` (or on the function it wraps),
    found without running the plugin's code, and the attribute's type name."""
    try:
        value = inspect.getattr_static(plugin, attribute, None)
        for holder in (value, inspect.getattr_static(value, "__func__", None)):
            opts = inspect.getattr_static(holder, _MARKER, None)
            if isinstance(opts, dict):
                return opts, type(value).__name__
    except Exception:  # noqa: BLE001,S110 - an attribute that cannot be read is not a hook mark
        pass
    return None, ""


def _invalid(name: str, plugin: object, problem: str, hint: str) -> Diagnostic:
    return Diagnostic(
        "host-plugin-invalid", f"host plugin {name!r} ({describe_plugin(plugin)}) {problem}; "
        "it is left out", subject=name, severity=Severity.WARNING, hint=hint)


def _no_hooks(name: str, plugin: object) -> Diagnostic:
    return Diagnostic(
        "host-plugin-no-hooks", f"host plugin {name!r} ({describe_plugin(plugin)}) implements "
        "no hook: nothing in it is marked with iokit_sdk's @hookimpl; it is left out",
        subject=name, severity=Severity.WARNING,
        hint="mark its functions with `from iokit_sdk import hookimpl`, and pass the plugin "
             "object itself (a module or an instance), not its name")


def _forget(manager: pluggy.PluginManager, plugin: object) -> None:
    """Undo a registration that went wrong part-way (older pluggy releases leave it half done)."""
    names = [n for n, p in manager.list_name_plugin() if p is plugin]
    try:
        for name in names:
            manager.unregister(plugin, name)
    except Exception:  # noqa: BLE001,S110 - pluggy compares plugins with ==, which a plugin
        pass  # may break; pluggy 1.7 validates before it changes anything, so nothing is left


def _canonical_name(manager: pluggy.PluginManager, plugin: object) -> str:
    try:
        return manager.get_canonical_name(plugin)
    except Exception:  # noqa: BLE001 - a plugin whose __name__ raises
        return str(id(plugin))


def _unreadable(name: str, file: str) -> Diagnostic:
    return Diagnostic(
        "host-plugin-failed", f"installed distribution {name}: entry_points.txt is not UTF-8; "
        f"{ENTRY_POINT_GROUP} entry points on damaged lines are skipped", file=file,
        subject=name, severity=Severity.WARNING,
        hint="reinstall the distribution (pip install --force-reinstall), or uninstall it")

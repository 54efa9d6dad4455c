"""Dependency resolution and load order (``OSKext::resolveDependencies``, kmutil's library choice).

Each kext's ``OSBundleLibraries`` is resolved depth-first in the dictionary's order with a loop
stack, as xnu does; libraries load before their dependents. A codeless library's own
dependencies are spliced into its dependent's list instead of the library itself.

Choices the host makes, and why:

- **Compatibility rule: user space's** ``0 < compatible_version <= requested <= version``
  (IOKitUser ``OSKextIsCompatibleWithVersion``), what kmutil enforces when it builds a
  collection. The kernel's own check omits the lower bound; a driver that resolves here
  resolves on a Mac. A library without ``OSBundleCompatibleVersion`` satisfies nothing.
- **Several bundles with one id** (two distributions, or two versions of a library): as the
  user-space library does, candidates are ordered by descending version, then discovery order;
  the first that satisfies every request made of that id wins, otherwise the newest. The
  others are reported (``kext-duplicate-bundle-id``) and not loaded: the kernel holds one kext
  per identifier.
- The host's own libraries (:mod:`iokit_host.kext.kpi`) are already loaded; an installed
  bundle with the same id is reported (``kext-shadows-builtin``) and ignored.
- A refused kext never stops the others; its dependents are refused naming it
  (``kext-dependency-refused``). Top-level kexts are visited in bundle-id order, so the load
  order does not depend on installation order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from iokit_sdk import keys

from iokit_host.errors import Diagnostic, Severity, quoted
from iokit_host.kext.bundle import KextBundle
from iokit_host.kext.kpi import builtin_bundles
from iokit_host.kext.version import INVALID, Rule, is_compatible, try_parse_version

__all__ = ["MAX_LINK_DEPTH", "Resolution", "resolve"]

_OK = "ok"
_VISITING = "visiting"


@dataclass(frozen=True, slots=True)
class Resolution:
    """The outcome of resolving a set of kexts.

    :param load_order: the usable kexts, dependencies first (builtins excluded: they are
        loaded already). Codeless kexts are included: their personalities still publish.
    :param refused: bundle id -> why it cannot load.
    :param builtin: the host's own libraries, in kextstat order.
    """

    load_order: tuple[KextBundle, ...]
    refused: Mapping[str, Diagnostic]
    diagnostics: tuple[Diagnostic, ...]
    builtin: tuple[KextBundle, ...] = ()
    links: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def dependencies(self, bundle_id: str) -> tuple[str, ...]:
        """The ids ``bundle_id`` links against (codeless libraries spliced), in load order."""
        return self.links.get(bundle_id, ())

    def bundle(self, bundle_id: str) -> KextBundle | None:
        for bundle in (*self.builtin, *self.load_order):
            if bundle.bundle_id == bundle_id:
                return bundle
        return None


def resolve(
    bundles: Iterable[KextBundle],
    *,
    builtin: Sequence[KextBundle] | None = None,
    rule: Rule = "user",
) -> Resolution:
    """Resolve ``bundles`` against each other and the host's ``builtin`` libraries."""
    return _Resolver(tuple(bundles), tuple(builtin_bundles() if builtin is None else builtin),
                     rule).run()


#: How many libraries deep a chain of links may go (each link is a level of the walk, and
#: no real kext is more than a few deep).
MAX_LINK_DEPTH = 256


class _Resolver:
    def __init__(self, bundles: tuple[KextBundle, ...], builtin: tuple[KextBundle, ...],
                 rule: Rule) -> None:
        self.rule = rule
        self.builtin = builtin
        self.known: dict[str, KextBundle] = {b.bundle_id: b for b in builtin}
        self.shadowed: dict[str, list[KextBundle]] = {}
        self.diagnostics: list[Diagnostic] = []
        self.state: dict[str, str | Diagnostic] = {b.bundle_id: _OK for b in builtin}
        self.links: dict[str, tuple[str, ...]] = {b.bundle_id: () for b in builtin}
        self.order: list[KextBundle] = []
        self.stack: list[str] = []
        self._select(bundles)

    # -- choosing one bundle per id -------------------------------------------------------
    def _select(self, bundles: tuple[KextBundle, ...]) -> None:
        by_id: dict[str, list[tuple[int, KextBundle]]] = {}
        for index, bundle in enumerate(bundles):
            if bundle.bundle_id in self.known:
                self.diagnostics.append(_diag(
                    "kext-shadows-builtin", bundle, Severity.WARNING,
                    f"{bundle.bundle_id} is exported by the host itself; {_origin(bundle)} is "
                    "ignored", "rename the kext's CFBundleIdentifier or uninstall it"))
                continue
            by_id.setdefault(bundle.bundle_id, []).append((index, bundle))
        requests = _requests(bundles)
        for bundle_id, candidates in by_id.items():
            ranked = [b for _, b in sorted(candidates, key=lambda c: (-c[1].version_value, c[0]))]
            wanted = requests.get(bundle_id, [])
            winner = next((b for b in ranked if all(self._fits(b, r) for r in wanted)), ranked[0])
            self.known[bundle_id] = winner
            losers = [b for b in ranked if b is not winner]
            self.shadowed[bundle_id] = losers
            for loser in losers:
                self.diagnostics.append(_diag(
                    "kext-duplicate-bundle-id", loser, Severity.WARNING,
                    f"{bundle_id} is claimed by {_origin(winner)} and {_origin(loser)}; "
                    f"{winner.version} from {_origin(winner)} is loaded",
                    "uninstall one of them; the newest version that satisfies every "
                    "dependent wins, then the first found on sys.path"))

    def _fits(self, library: KextBundle, requested: str) -> bool:
        value = try_parse_version(requested)
        return value != INVALID and is_compatible(
            library.version_value, library.compatible_version_value, value, rule=self.rule)

    # -- depth-first resolution -----------------------------------------------------------
    def run(self) -> Resolution:
        for bundle_id in sorted(self.known):
            self._visit(bundle_id)
        refused = {i: s for i, s in self.state.items() if isinstance(s, Diagnostic)}
        return Resolution(
            load_order=tuple(self.order), refused=MappingProxyType(refused),
            diagnostics=tuple(self.diagnostics), builtin=self.builtin,
            links=MappingProxyType(dict(self.links)))

    def _visit(self, bundle_id: str) -> str | Diagnostic:
        state = self.state.get(bundle_id)
        if state is not None and state != _VISITING:
            return state
        bundle = self.known[bundle_id]
        self.state[bundle_id] = _VISITING
        self.stack.append(bundle_id)
        outcome = self._resolve(bundle)
        self.stack.pop()
        if isinstance(self.state[bundle_id], Diagnostic):  # refused as part of a cycle
            return self.state[bundle_id]
        if isinstance(outcome, Diagnostic) and bundle.is_codeless:
            # The kernel never resolves a codeless kext loaded for its personalities: they
            # still publish; only what it links against (spliced into dependents) is lost.
            self.diagnostics.append(_downgrade(outcome))
            outcome = ()
        if isinstance(outcome, Diagnostic):
            self._refuse(bundle_id, outcome)
            return outcome
        self.links[bundle_id] = outcome
        self.state[bundle_id] = _OK
        self.order.append(bundle)
        return _OK

    def _refuse(self, bundle_id: str, diagnostic: Diagnostic) -> None:
        self.state[bundle_id] = diagnostic
        self.diagnostics.append(diagnostic)

    def _resolve(self, bundle: KextBundle) -> tuple[str, ...] | Diagnostic:
        policy = self._policy(bundle)
        if policy is not None:
            return policy
        links: list[str] = []
        for library, requested in bundle.libraries.items():
            problem = self._check_library(bundle, library, requested)
            if problem is not None:
                return problem
            if library in self.stack:
                return self._cycle(library)
            if len(self.stack) >= MAX_LINK_DEPTH and self.state.get(library) is None:
                return _diag(  # the walk recurses once per link: a bound, not a crash
                    "kext-dependency-chain-too-long", bundle, Severity.ERROR,
                    f"{bundle.bundle_id} is {len(self.stack)} links down a chain of libraries "
                    f"(longer than {MAX_LINK_DEPTH}) and links against {library} deeper still",
                    "link against the libraries you use directly, not through long chains",
                    key=f"{keys.BUNDLE_LIBRARIES}.{library}")
            outcome = self._visit(library)
            if isinstance(outcome, Diagnostic):
                if isinstance(self.state[bundle.bundle_id], Diagnostic):
                    return self.state[bundle.bundle_id]  # type: ignore[return-value]
                return _refused_dependency(bundle, library, outcome)
            dependency = self.known[library]
            spliced = (library,) if not dependency.is_codeless else self.links[library]
            links += [i for i in spliced if i not in links]
        return tuple(links)

    def _policy(self, bundle: KextBundle) -> Diagnostic | None:
        kernel = [i for i in bundle.libraries if i == "com.apple.kernel"
                  or i.startswith("com.apple.kernel.")]
        if kernel:
            return _diag("kext-kernel-dependency-forbidden", bundle, Severity.ERROR,
                         f"{bundle.bundle_id} links against {kernel[0]}, which 64-bit kernels "
                         "do not export", "link against com.apple.kpi.* instead",
                         key=f"{keys.BUNDLE_LIBRARIES}.{kernel[0]}")
        if bundle.has_executable and not bundle.libraries:
            return _diag("kext-no-libraries", bundle, Severity.ERROR,
                         f"{bundle.bundle_id} has code but an empty OSBundleLibraries",
                         "declare what the driver links against, e.g. com.apple.kpi.iokit",
                         key=keys.BUNDLE_LIBRARIES)
        if bundle.has_executable and not any(
                i.startswith("com.apple.kpi.") or i == "org.iokit-host.sdk"
                for i in bundle.libraries):
            self.diagnostics.append(_diag(
                "kext-no-kpi-dependency", bundle, Severity.WARNING,
                f"{bundle.bundle_id} declares no com.apple.kpi.* library",
                "add com.apple.kpi.iokit (or org.iokit-host.sdk) to OSBundleLibraries",
                key=keys.BUNDLE_LIBRARIES))
        return None

    def _check_library(self, bundle: KextBundle, library: str,
                       requested: object) -> Diagnostic | None:
        key = f"{keys.BUNDLE_LIBRARIES}.{library}"
        if not isinstance(requested, str) or try_parse_version(requested) == INVALID:
            return _diag("kext-bad-library-version", bundle, Severity.ERROR,
                         f"requested version {quoted(requested)} of {library} is invalid",
                         "write a kext version such as 1.0.0", key=key)
        target = self.known.get(library)
        if target is None:
            return _diag("kext-library-missing", bundle, Severity.ERROR,
                         f"library {library} (requested {requested}) is not installed",
                         f"install the distribution that provides {library}", key=key)
        if self._fits(target, requested):
            return None
        return _incompatible(bundle, library, requested, target, self.shadowed.get(library, []))

    def _cycle(self, library: str) -> Diagnostic:
        members = self.stack[self.stack.index(library):]
        path = " -> ".join([*members, library])
        for position, member in enumerate(members):
            target = members[(position + 1) % len(members)]
            diagnostic = _diag(
                "kext-dependency-cycle", self.known[member], Severity.ERROR,
                f"dependency cycle {path} (edge {member} -> {target})",
                f"remove {target} from {member}'s OSBundleLibraries, or split the shared code "
                "into a library both depend on", key=f"{keys.BUNDLE_LIBRARIES}.{target}")
            if member != self.stack[-1]:
                self._refuse(member, diagnostic)
        return _diag("kext-dependency-cycle", self.known[self.stack[-1]], Severity.ERROR,
                     f"dependency cycle {path} (edge {self.stack[-1]} -> {library})",
                     f"remove {library} from {self.stack[-1]}'s OSBundleLibraries",
                     key=f"{keys.BUNDLE_LIBRARIES}.{library}")


def _requests(bundles: Iterable[KextBundle]) -> dict[str, list[str]]:
    requests: dict[str, list[str]] = {}
    for bundle in bundles:
        for library, requested in bundle.libraries.items():
            requests.setdefault(library, []).append(requested)
    return requests


def _incompatible(bundle: KextBundle, library: str, requested: str, target: KextBundle,
                  others: list[KextBundle]) -> Diagnostic:
    if not target.is_library:
        why = f"{library} {target.version} is not a library (no OSBundleCompatibleVersion)"
        hint = f"the author of {library} must declare OSBundleCompatibleVersion"
    else:
        why = (f"{library} {target.version} is compatible with requests "
               f"{target.compatible_version} to {target.version}, not {requested}")
        hint = (f"request a version in [{target.compatible_version}, {target.version}] or "
                f"install a version of {library} compatible with {requested}")
    if others:
        why += "; also installed: " + ", ".join(f"{o.version} ({_origin(o)})" for o in others)
    return _diag("kext-library-incompatible", bundle, Severity.ERROR, why, hint,
                 key=f"{keys.BUNDLE_LIBRARIES}.{library}")


#: What a refusal for a refused library says of the refusal that began the chain.
_BEGAN = " (the refusal it follows from: "


def _refused_dependency(bundle: KextBundle, library: str, cause: Diagnostic) -> Diagnostic:
    # Down a chain of libraries each says the first refusal, not every one between: nested,
    # a chain of n kexts said n^2 words.
    began = cause.message[cause.message.index(_BEGAN):] \
        if cause.reference == "kext-dependency-refused" and _BEGAN in cause.message \
        else f"{_BEGAN}{cause.reference}: {cause.message})"
    return _diag("kext-dependency-refused", bundle, Severity.ERROR,
                 f"library {library} was refused{began}",
                 f"fix {library} first", key=f"{keys.BUNDLE_LIBRARIES}.{library}")


def _downgrade(diagnostic: Diagnostic) -> Diagnostic:
    return Diagnostic(diagnostic.reference, diagnostic.message + " (codeless kext: its "
                      "personalities still publish)", file=diagnostic.file, key=diagnostic.key,
                      hint=diagnostic.hint, subject=diagnostic.subject,
                      severity=Severity.WARNING)


def _origin(bundle: KextBundle) -> str:
    if bundle.distribution is not None:
        return f"{bundle.distribution.name} {bundle.distribution.version}"
    return bundle.source or "<memory>"


def _diag(reference: str, bundle: KextBundle, severity: Severity, message: str, hint: str,
          *, key: str | None = None) -> Diagnostic:
    return Diagnostic(reference, message, file=bundle.source, key=key, hint=hint,
                      subject=bundle.bundle_id, severity=severity)

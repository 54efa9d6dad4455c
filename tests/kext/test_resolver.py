"""Dependency resolution: load order, missing and incompatible libraries, cycles, duplicates."""

from __future__ import annotations

from typing import Any

from iokit_host.kext.bundle import DistributionInfo, KextBundle
from iokit_host.kext.manifest import parse_info
from iokit_host.kext.resolver import MAX_LINK_DEPTH, resolve

KPI = {"com.apple.kpi.iokit": "9.0"}


def kext(bundle_id: str, version: str = "1.0", compat: str | None = None,
         libraries: dict[str, str] | None = None, *, code: bool = True,
         dist: str | None = None) -> KextBundle:
    info: dict[str, Any] = {"CFBundleIdentifier": bundle_id, "CFBundleVersion": version,
                            "OSBundleLibraries": KPI if libraries is None else libraries}
    if compat:
        info["OSBundleCompatibleVersion"] = compat
    distribution = DistributionInfo(dist, "1", f"/site/{dist}") if dist else None
    bundle, found = parse_info(info, package=bundle_id.rsplit(".", 1)[-1] if code else None,
                               distribution=distribution)
    assert bundle is not None, found
    return bundle


def ids(bundles: tuple[KextBundle, ...]) -> list[str]:
    return [b.bundle_id for b in bundles]


def test_dependencies_load_first_and_order_is_deterministic() -> None:
    bundles = [kext("z.driver", libraries={"m.lib": "1.0", **KPI}),
               kext("m.lib", "1.0", "1.0", {"a.base": "1.0", **KPI}),
               kext("a.base", "1.0", "1.0")]
    first = resolve(bundles)
    assert ids(first.load_order) == ["a.base", "m.lib", "z.driver"]
    assert ids(resolve(reversed(bundles)).load_order) == ids(first.load_order)
    assert first.dependencies("z.driver") == ("m.lib", "com.apple.kpi.iokit")
    assert not first.refused


def test_missing_library_refuses_only_the_dependents() -> None:
    result = resolve([kext("a.driver", libraries={"org.coolstar.VoodooGPIO": "1.1", **KPI}),
                      kext("b.driver", libraries={"a.driver": "1.0", **KPI}),
                      kext("c.driver")])
    assert ids(result.load_order) == ["c.driver"]
    assert result.refused["a.driver"].reference == "kext-library-missing"
    assert "org.coolstar.VoodooGPIO" in result.refused["a.driver"].message
    # b is refused for depending on a non-library first; both never stop c.
    assert result.refused["b.driver"].reference in ("kext-library-incompatible",
                                                    "kext-dependency-refused")


def test_dependents_of_a_refused_library_name_it() -> None:
    result = resolve([kext("lib.one", "1.0", "1.0", {"gone": "1.0"}),
                      kext("user", libraries={"lib.one": "1.0", **KPI})])
    refused = result.refused["user"]
    assert refused.reference == "kext-dependency-refused"
    assert "lib.one" in refused.message and "kext-library-missing" in refused.message


def test_user_space_rule_rejects_requests_below_compatible_version() -> None:
    lib = kext("com.example.lib", "2.0", "1.0")
    ok = resolve([lib, kext("new", libraries={"com.example.lib": "1.5", **KPI})])
    assert "new" in ids(ok.load_order)
    old = resolve([lib, kext("old", libraries={"com.example.lib": "0.9", **KPI})])
    assert old.refused["old"].reference == "kext-library-incompatible"
    assert "0.9" in old.refused["old"].message
    kernel = resolve([lib, kext("old", libraries={"com.example.lib": "0.9", **KPI})],
                     rule="kernel")
    assert "old" in ids(kernel.load_order)


def test_library_without_compatible_version_is_not_a_library() -> None:
    result = resolve([kext("plain"), kext("user", libraries={"plain": "1.0", **KPI})])
    assert "not a library" in result.refused["user"].message


def test_cycle_names_the_edge() -> None:
    result = resolve([kext("a.lib", "1.0", "1.0", {"b.lib": "1.0"}),
                      kext("b.lib", "1.0", "1.0", {"a.lib": "1.0"}),
                      kext("c.driver")])
    assert ids(result.load_order) == ["c.driver"]
    for bundle_id, edge in (("a.lib", "a.lib -> b.lib"), ("b.lib", "b.lib -> a.lib")):
        diagnostic = result.refused[bundle_id]
        assert diagnostic.reference == "kext-dependency-cycle"
        assert edge in diagnostic.message


def test_codeless_library_dependencies_are_spliced() -> None:
    result = resolve([kext("codeless.lib", "1.0", "1.0", {"real.lib": "1.0"}, code=False),
                      kext("real.lib", "1.0", "1.0"),
                      kext("user", libraries={"codeless.lib": "1.0", **KPI})])
    assert result.dependencies("user") == ("real.lib", "com.apple.kpi.iokit")


def test_newest_compatible_of_several_installed_versions_wins() -> None:
    old = kext("com.example.lib", "1.5", "1.0", dist="lib-legacy")
    new = kext("com.example.lib", "2.0", "2.0", dist="lib")
    newest = resolve([old, new, kext("user", libraries={"com.example.lib": "2.0", **KPI})])
    assert newest.bundle("com.example.lib") is new
    older = resolve([new, old, kext("user", libraries={"com.example.lib": "1.2", **KPI})])
    assert older.bundle("com.example.lib") is old
    assert "user" in ids(older.load_order)
    duplicate = [d for d in older.diagnostics if d.reference == "kext-duplicate-bundle-id"]
    assert len(duplicate) == 1 and "lib 1" in duplicate[0].message


def test_duplicate_claim_winner_is_deterministic() -> None:
    a = kext("com.example.same", "1.0", dist="first")
    b = kext("com.example.same", "1.0", dist="second")
    assert resolve([a, b]).bundle("com.example.same") is a
    assert resolve([b, a]).bundle("com.example.same") is b  # then discovery (sys.path) order


def test_kernel_dependency_and_empty_libraries_are_refused() -> None:
    result = resolve([kext("old.style", libraries={"com.apple.kernel.6.0": "7.9.9"}),
                      kext("no.libs", libraries={})])
    assert result.refused["old.style"].reference == "kext-kernel-dependency-forbidden"
    assert result.refused["no.libs"].reference == "kext-no-libraries"


def test_codeless_kext_with_missing_library_still_publishes() -> None:
    result = resolve([kext("codeless", libraries={"absent": "1.0"}, code=False)])
    assert ids(result.load_order) == ["codeless"]
    assert [d.reference for d in result.diagnostics] == ["kext-library-missing"]


def test_builtin_shadowing_is_reported() -> None:
    result = resolve([kext("com.apple.kpi.iokit", "99.0", "1.0")])
    assert [d.reference for d in result.diagnostics] == ["kext-shadows-builtin"]
    assert result.bundle("com.apple.kpi.iokit").version == "23.6.0"  # type: ignore[union-attr]


def test_a_chain_of_libraries_past_the_walk_s_bound_is_refused_in_words() -> None:
    """Each link was a level of recursion: 2,000 kexts each linking the next ended the
    command with an internal RecursionError. Now the link past the bound is refused, and
    every kext above it names that first refusal (not every one between: n^2 words)."""
    count = MAX_LINK_DEPTH + 200

    def name(i: int) -> str:  # the top of the chain sorts first, so the walk starts there
        return f"ch.{count - i:04d}"

    chain = [kext(name(i), "1.0", "1.0", {name(i - 1): "1.0", **KPI} if i else None)
             for i in range(count)]
    result = resolve(chain)
    assert name(0) in ids(result.load_order) and name(count - 1) in result.refused
    assert any(d.reference == "kext-dependency-chain-too-long"
               for d in result.refused.values())
    assert all(len(d.message) < 400 for d in result.refused.values())
    assert "kext-dependency-chain-too-long" in result.refused[name(count - 1)].message

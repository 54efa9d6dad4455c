"""Discovery of real installed kext distributions, and the kernel collection that caches it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from iokit_host.kext.discovery import discover
from iokit_host.kext.resolver import resolve

pytestmark = pytest.mark.slow


def test_finds_installed_kexts_without_importing_them(kext_site: Path) -> None:
    found = discover(path=[str(kext_site)], use_cache=False)
    assert sorted(b.bundle_id for b in found.bundles) == [
        "com.example.brokenimport", "com.example.demo", "com.example.lib", "com.example.lib"]
    demo = found.find("com.example.demo")[0]
    assert demo.package == "demo_driver" and demo.distribution is not None
    assert demo.distribution.name == "iokit_demo_driver" and demo.distribution.version == "1.0"
    assert "demo_driver" not in sys.modules and "broken_import" not in sys.modules
    refs = {d.subject: d.reference for d in found.diagnostics if d.severity.value == "error"}
    assert refs == {"com.example.noplist": "kext-manifest-not-found",
                    "com.example.broken": "manifest-bad-version"}


def test_resolution_of_installed_set(kext_site: Path) -> None:
    found = discover(path=[str(kext_site)], use_cache=False)
    result = resolve(found.bundles)
    lib = result.bundle("com.example.lib")
    assert lib is not None and lib.version == "1.5"  # newest compatible with the 1.2 request
    order = [b.bundle_id for b in result.load_order]
    assert order.index("com.example.lib") < order.index("com.example.demo")
    assert any(d.reference == "kext-duplicate-bundle-id" for d in result.diagnostics)


def test_collection_fresh_then_rebuilt_on_change(kext_site: Path, tmp_path: Path) -> None:
    cold = discover(path=[str(kext_site)], cache_dir=tmp_path)
    warm = discover(path=[str(kext_site)], cache_dir=tmp_path)
    assert (cold.cache_status, warm.cache_status) == ("rebuilt", "fresh")
    assert warm.bundles == cold.bundles and warm.diagnostics == cold.diagnostics
    plist = kext_site / "demo_driver" / "Info.plist"
    original = plist.read_bytes()
    stat = plist.stat()
    try:
        # Same size, mtime moved by one microsecond: float32 mtimes cannot see this.
        plist.write_bytes(original.replace(b"<string>1.0</string>", b"<string>1.1</string>", 1))
        os.utime(plist, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))
        changed = discover(path=[str(kext_site)], cache_dir=tmp_path)
        assert changed.cache_status == "rebuilt"
        assert changed.find("com.example.demo")[0].version == "1.1"
    finally:
        plist.write_bytes(original)


def test_collection_rebuilt_when_a_distribution_is_installed(kext_site: Path,
                                                             tmp_path: Path) -> None:
    from tests.kext.dists import info_plist, pip_install_target, write_wheel

    site = tmp_path / "site"
    first = write_wheel(tmp_path, "kext-one", "1.0", "kext_one",
                        plist=info_plist("com.example.one"),
                        entry_points={"com.example.one": "kext_one"})
    pip_install_target([first], site)
    assert len(discover(path=[str(site)], cache_dir=tmp_path).bundles) == 1
    second = write_wheel(tmp_path, "kext-two", "1.0", "kext_two",
                         plist=info_plist("com.example.two"),
                         entry_points={"com.example.two": "kext_two"})
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--upgrade", "--target", str(site), str(first), str(second)], check=True)
    again = discover(path=[str(site)], cache_dir=tmp_path)
    assert again.cache_status == "rebuilt" and len(again.bundles) == 2


def test_no_cache_env_and_unwritable_dir(kext_site: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOKIT_NO_CACHE", "1")
    assert discover(path=[str(kext_site)], cache_dir=tmp_path).cache_status == "off"
    monkeypatch.delenv("IOKIT_NO_CACHE")
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = discover(path=[str(kext_site)], cache_dir=blocker / "sub")
    assert result.cache_status == "unwritable"
    assert result.diagnostics[-1].reference == "kernel-collection-unwritable"


def test_editable_install_is_found_without_import(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    package = project / "editable_kext"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('imported!')\n")
    from tests.kext.dists import info_plist

    (package / "Info.plist").write_bytes(info_plist("com.example.editable"))
    (project / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "editable-kext"
        version = "0.3"
        [project.entry-points."iokit.kexts"]
        "com.example.editable" = "editable_kext"
        [tool.setuptools]
        packages = ["editable_kext"]
    """))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # A real editable install, its build backend fetched by pip as a user's would be.
    import sysconfig

    build_env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(project)],
                   check=True, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    repo = Path(__file__).resolve().parents[2]
    script = ("from iokit_host.kext.discovery import discover\nimport sys\n"
              "d = discover(use_cache=False)\n"
              "print([(b.bundle_id, b.source) for b in d.bundles])\n"
              "assert 'editable_kext' not in sys.modules\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(repo), str(repo / "sdk"), build_env["PYTHONPATH"]])}  # pluggy for iokit_sdk
    out = subprocess.run([str(python), "-c", script], check=True, capture_output=True,
                         text=True, env=env).stdout
    assert "com.example.editable" in out and str(package / "Info.plist") in out

"""Discovery of real installed kext distributions, and the kernel collection that caches it.

Tests that pip-install distributions are marked slow; those that lay a damaged distribution
out by hand (no installer writes one) run ``iokit`` in a subprocess and are not."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from iokit_host.kext.discovery import discover
from iokit_host.kext.resolver import resolve
from tests.kernelkit import iokit


@pytest.mark.slow
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


@pytest.mark.slow
def test_resolution_of_installed_set(kext_site: Path) -> None:
    found = discover(path=[str(kext_site)], use_cache=False)
    result = resolve(found.bundles)
    lib = result.bundle("com.example.lib")
    assert lib is not None and lib.version == "1.5"  # newest compatible with the 1.2 request
    order = [b.bundle_id for b in result.load_order]
    assert order.index("com.example.lib") < order.index("com.example.demo")
    assert any(d.reference == "kext-duplicate-bundle-id" for d in result.diagnostics)


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


# -- one bad installed distribution never stops the rest ---------------------------------------
def _metadata(name: str, version: str = "1.0") -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()


def _damaged_site(site: Path) -> Path:
    """Distributions no installer writes, beside good kexts declared by some of them."""
    from tests.kext.dists import info_plist, write_installed

    return write_installed(site, {
        # A kext distribution whose entry_points.txt has one line that is not UTF-8.
        "damaged_kexts-1.0.dist-info/METADATA": _metadata("damaged-kexts"),
        "damaged_kexts-1.0.dist-info/entry_points.txt":
            b"[iokit.kexts]\ncom.example.good = good_kext\ncom.example.bad\xff = bad\xfe\n",
        "good_kext/__init__.py": b"", "good_kext/Info.plist": info_plist("com.example.good"),
        # An unrelated distribution whose entry_points.txt is not UTF-8 at all.
        "unrelated-2.0.dist-info/METADATA": _metadata("unrelated", "2.0"),
        "unrelated-2.0.dist-info/entry_points.txt": b"[console_scripts]\nrun = \xff\xfe:main\n",
        # METADATA that is not UTF-8, in a folder name without a version.
        "garbled.dist-info/METADATA": b"Metadata-Version: 2.1\nName: garbled\xff\n",
        "garbled.dist-info/entry_points.txt": b"[iokit.kexts]\ncom.example.garbled = garbled\n",
        "garbled/__init__.py": b"", "garbled/Info.plist": info_plist("com.example.garbled"),
        # No METADATA at all, and one whose METADATA has no Name.
        "nometa.dist-info/entry_points.txt": b"[iokit.kexts]\ncom.example.nometa = nometa\n",
        "nometa/__init__.py": b"", "nometa/Info.plist": info_plist("com.example.nometa"),
        "nameless-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nVersion: 1.0\n",
        "nameless-1.0.dist-info/entry_points.txt": b"[iokit.kexts]\ncom.example.nameless = nl\n",
        "nl/__init__.py": b"", "nl/Info.plist": info_plist("com.example.nameless"),
        # Entry points that cannot name a kext: no name, no package, not a package name.
        "bad_values-1.0.dist-info/METADATA": _metadata("bad-values"),
        "bad_values-1.0.dist-info/entry_points.txt":
            b"[iokit.kexts]\n = good_kext\ncom.example.empty =\ncom.example.spaced = a b:c\n"
            b"com.example.up = ..\n",
    })


def _iokit(site: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "IOKIT_CACHE_DIR": str(cache)}
    env.pop("IOKIT_NO_CACHE", None)
    done = subprocess.run([sys.executable, "-m", "iokit_host", *args], env=env, text=True,
                          capture_output=True, timeout=300, check=False)
    assert "Traceback" not in done.stdout + done.stderr
    assert done.returncode == 0, done.stderr
    return done


def _warned(stderr: str, reference: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(f"warning[{reference}]")]


def test_damaged_distributions_cost_a_warning_each_cold_and_warm(tmp_path: Path) -> None:
    site = _damaged_site(tmp_path / "site")
    cache = tmp_path / "cache"
    for boot in ("cold", "warm"):
        done = _iokit(site, cache, "boot")
        assert " drivers started, " in done.stdout, boot  # the boot finished, with its summary
        unreadable = _warned(done.stderr, "kext-distribution-unreadable")
        assert len(unreadable) == 1 and "damaged_kexts 1.0" in unreadable[0], done.stderr
        assert "1 iokit.kexts entries on damaged lines" in unreadable[0]
        bad = _warned(done.stderr, "kext-entry-point-bad-value")
        assert len(bad) == 4 and all("bad_values" in line for line in bad), done.stderr
        assert "unrelated" not in done.stderr  # not a kext distribution: not discovery's business
        assert not [line for line in done.stderr.splitlines() if line.startswith("error[")]


def test_kmutil_create_reports_what_it_left_out(tmp_path: Path) -> None:
    site = _damaged_site(tmp_path / "site")
    done = _iokit(site, tmp_path / "cache", "kmutil", "create", "--json")
    import json

    report = json.loads(done.stdout)
    assert report["written"]
    left_out = sorted((d["reference"], d["subject"]) for d in report["diagnostics"])
    assert left_out == [("kext-distribution-unreadable", "damaged_kexts"),
                        ("kext-entry-point-bad-value", "bad_values"),
                        ("kext-entry-point-bad-value", "com.example.empty"),
                        ("kext-entry-point-bad-value", "com.example.spaced"),
                        ("kext-entry-point-bad-value", "com.example.up")]
    from iokit_host.kext.discovery import discover

    found = discover(path=[str(site)], use_cache=False)
    assert sorted(b.bundle_id for b in found.bundles) == [
        "com.example.garbled", "com.example.good", "com.example.nameless", "com.example.nometa"]
    nameless = found.find("com.example.nameless")[0].distribution
    assert nameless is not None and (nameless.name, nameless.version) == ("nameless", "1.0")
    garbled = found.find("com.example.garbled")[0].distribution
    assert garbled is not None and garbled.name == "garbled"


def test_kextstat_and_inspect_finish(tmp_path: Path) -> None:
    site = _damaged_site(tmp_path / "site")
    listed = _iokit(site, tmp_path / "cache", "kextstat")
    assert "damaged_kexts" in _warned(listed.stderr, "kext-distribution-unreadable")[0]
    shown = _iokit(site, tmp_path / "cache", "kext", "inspect", "com.example.garbled")
    assert "com.example.garbled" in shown.stdout


def test_a_path_entry_that_is_a_pipe_or_a_device_is_passed_over(tmp_path: Path) -> None:
    # importlib.metadata opens an entry that is no folder as a zip: a FIFO in PYTHONPATH made
    # every cold boot wait for a writer forever, a link to /dev/zero filled memory.
    fifo, zero = tmp_path / "fifo", tmp_path / "zero"
    os.mkfifo(fifo)  # made just now: a stamp would digest its content, opening it
    zero.symlink_to(os.devnull.replace("null", "zero"))
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "IOKIT_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(fifo), str(zero), str(root), str(root / "sdk")])}
    env.pop("IOKIT_NO_CACHE", None)
    done = iokit("boot", env=env)
    assert done.returncode == 0, done.stderr
    assert " 0 refusals" in done.stdout and "kexts loaded" in done.stdout

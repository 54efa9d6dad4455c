"""``iokit new``: scaffold a driver package from the copier template.

Fast tests render with copier into tmp and read the result; the slow ones install it with pip
into the session's throwaway environment and run what the next-steps text tells a user to run.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml

from iokit_host.cli import main
from iokit_host.kext.manifest import read_manifest
from iokit_host.kext.version import INVALID, try_parse_version
from iokit_host.scaffold import template_path
from iokit_host.testing.venv import Venv


def new(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["new", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_defaults_render_a_complete_driver_package(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = new(capsys, "acme-keyboard", "--defaults", "--output", str(tmp_path))
    assert status == 0
    root = tmp_path / "acme-keyboard"
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert files == {"pyproject.toml", "README.md", "tox.ini", ".copier-answers.yml",
                     "acme_keyboard/__init__.py", "acme_keyboard/driver.py",
                     "acme_keyboard/Info.plist", "tests/test_acme_keyboard.py"}
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["iokit.kexts"] == {
        "com.example.driver.AcmeKeyboard": "acme_keyboard"}
    assert any(dep.startswith("iokit-sdk") for dep in project["dependencies"])
    # the next steps a newcomer follows
    assert f"cd {root}" in out
    assert 'pip install -e ".[test]"' in out and "pytest" in out and "tox" in out


def test_the_manifest_is_a_valid_kext_with_one_personality(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    new(capsys, "acme-keyboard", "--defaults", "-o", str(tmp_path),
        "--bundle-id", "org.acme.driver.Keyboard", "--kext-version", "2.0b3")
    bundle, problems = read_manifest(tmp_path / "acme-keyboard" / "acme_keyboard",
                                     package="acme_keyboard")
    assert bundle is not None, problems
    assert (bundle.bundle_id, bundle.version) == ("org.acme.driver.Keyboard", "2.0b3")
    (personality,) = bundle.personalities.values()
    assert personality["IOClass"] == "AcmeKeyboard"
    assert personality["IOProviderClass"] == "IOUSBHostInterface"
    assert (personality["bInterfaceClass"], personality["bInterfaceSubClass"],
            personality["bInterfaceProtocol"]) == (3, 1, 1)
    assert "org.iokit-host.sdk" in bundle.libraries
    version = tomllib.loads((tmp_path / "acme-keyboard" / "pyproject.toml").read_text())
    assert version["project"]["version"] == "2.0b3"


@pytest.mark.parametrize(("provider", "key"), [
    ("IOPCIDevice", "IOPCIMatch"), ("IOUSBHostDevice", "idProduct"),
    ("IOResources", "IOResourceMatch"), ("AppleSMCDevice", "IONameMatch")])
def test_each_provider_class_gets_its_matching_keys(tmp_path: Path, provider: str, key: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = new(capsys, "x-driver", "--defaults", "-o", str(tmp_path),
                         "--provider-class", provider)
    assert status == 0, err
    info = plistlib.loads((tmp_path / "x-driver" / "x_driver" / "Info.plist").read_bytes())
    (personality,) = info["IOKitPersonalities"].values()
    assert personality["IOProviderClass"] == provider
    assert key in personality
    test = tmp_path / "x-driver" / "tests" / "test_x_driver.py"
    compile(test.read_text(), str(test), "exec")  # the generated tests are valid Python


def test_an_existing_folder_is_never_overwritten(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "acme-keyboard"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    status, out, err = new(capsys, "acme-keyboard", "--defaults", "-o", str(tmp_path))
    assert status == 1
    assert "new-destination-exists" in err and "already exists" in err
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert out == ""


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--bundle-id", "acme", "bundle_id must be reverse-DNS"),
    ("--kext-version", "1.0fc0", "version must be an OSKext version"),
    ("--kext-version", "1.0-beta", "version must be an OSKext version"),
    ("--class-name", "acme", "class_name must be a Python class name"),
    # numbers a personality cannot hold: the kext was refused at load, or could never match
    ("--data", "probe_score=99999999999999999999999",
     "probe_score must be an IOProbeScore (SInt32) from -2147483648 to 2147483647"),
    ("--data", "interface_class=300", "interface_class must be a USB descriptor byte"),
    ("--data", "interface_protocol=-1", "interface_protocol must be a USB descriptor byte"),
])
def test_invalid_answers_are_refused_and_nothing_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str,
        message: str) -> None:
    status, _, err = new(capsys, "acme-keyboard", "--defaults", "-o", str(tmp_path),
                         option, value)
    assert status == 1
    assert "new-invalid-answer" in err and message in err
    assert not (tmp_path / "acme-keyboard").exists()


def _nothing_written(folder: Path) -> bool:
    return not any(folder.iterdir())


@pytest.mark.parametrize(("data", "expected"), [
    ("id_vender=1133", ("error[new-unknown-question]: id_vender: the driver template has no "
                        "question 'id_vender'\n  hint: did you mean 'id_vendor'?")),
    ("probe_scor=5", "did you mean 'probe_score'?"),
    ("probe_score=abc", "error[new-invalid-answer]: probe_score: 'abc' is not an integer"),
    ("interface_class=3.5", "interface_class: '3.5' is not an integer"),
    ("name=other", "error[new-bad-data]: --data cannot answer 'name'"),
    ("no-equals-sign", "--data takes QUESTION=VALUE, not 'no-equals-sign'"),
    # asked only for a device driver: copier would drop it without a word
    ("id_vendor=1133", ("error[new-answer-not-asked]: id_vendor: the template does not ask "
                        "id_vendor here; it is asked only when provider_class == "
                        "'IOUSBHostDevice'")),
])
def test_a_bad_data_answer_is_refused_by_name_and_nothing_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], data: str, expected: str) -> None:
    status, out, err = new(capsys, "acme-keyboard", "--defaults", "-o", str(tmp_path),
                           "--data", data)
    assert status == 1, out
    assert expected in err
    assert "Traceback" not in err and "internal error" not in err
    assert _nothing_written(tmp_path)


@pytest.mark.parametrize(("extra", "data", "message"), [
    (("--provider-class", "IOUSBHostDevice"), "id_vendor=0x10000",
     "id_vendor must be a 16-bit USB id from 0 to 65535 (got 65536)"),
    (("--dext",), "transport_vendor=70000", "transport_vendor must be a 16-bit USB id"),
])
def test_a_usb_id_past_16_bits_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          extra: tuple[str, ...], data: str,
                                          message: str) -> None:
    status, _, err = new(capsys, "acme-keyboard", "--defaults", "-o", str(tmp_path), *extra,
                         "--data", data)
    assert status == 1 and "new-invalid-answer" in err and message in err, err
    assert _nothing_written(tmp_path)


def test_data_integers_may_be_hexadecimal(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = new(capsys, "logi-mouse", "--defaults", "-o", str(tmp_path),
                         "--provider-class", "IOUSBHostDevice", "--data", "id_vendor=0x046d",
                         "--data", "id_product=49271")
    assert status == 0, err
    info = plistlib.loads((tmp_path / "logi-mouse" / "logi_mouse" / "Info.plist").read_bytes())
    (personality,) = info["IOKitPersonalities"].values()
    assert (personality["idVendor"], personality["idProduct"]) == (0x046D, 49271)


def test_an_output_that_cannot_hold_the_package_is_a_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    status, _, err = new(capsys, "acme-keyboard", "--defaults", "-o", str(a_file))
    assert status == 1
    assert (f"error[new-destination-unwritable]: {a_file / 'acme-keyboard'}: cannot create "
            f"{a_file / 'acme-keyboard'}: it exists and is not a folder ({a_file})") in err
    assert "Traceback" not in err and "Warning" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]


@pytest.mark.parametrize("version", [
    "1", "1.", "1.0.0", "01.0", "1b3", "1.0b3", "1.0f1", "1.0d0", "1.2.3d255",
    "9999.9999.9999fc255", "1.2.3333.", "1.2.3333.b1",
    "10000", "1.2.3.4", "1.0fc0", "1.2.3d256", "1.0-beta", "1.00000", "1.2.3.b1", "1.2.3b"])
def test_the_version_validator_agrees_with_the_kernels_parser(tmp_path: Path,
                                                                version: str) -> None:
    try:
        copier.run_copy(str(template_path()), str(tmp_path / "x"), data={
            "name": "x", "version": version}, defaults=True, quiet=True, pretend=True)
        accepted = True
    except ValueError:
        accepted = False
    assert accepted == (try_parse_version(version) != INVALID)


def test_the_template_needs_no_trust() -> None:
    config = yaml.safe_load((template_path() / "copier.yml").read_text())
    assert not {"_tasks", "_migrations", "_jinja_extensions"} & set(config)


def test_re_rendering_keeps_the_files_the_author_owns(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    new(capsys, "acme-keyboard", "--defaults", "-o", str(tmp_path))
    root = tmp_path / "acme-keyboard"
    owned = ["acme_keyboard/driver.py", "acme_keyboard/Info.plist", "README.md",
             "tests/test_acme_keyboard.py"]
    for name in [*owned, "tox.ini"]:
        (root / name).write_text("edited by the author\n")
    # what `copier recopy` / `copier update` does with the stored answers
    copier.run_recopy(str(root), defaults=True, overwrite=True, quiet=True)
    assert all((root / name).read_text() == "edited by the author\n" for name in owned)
    assert "[testenv]" in (root / "tox.ini").read_text()  # boilerplate follows the template


def test_the_rendered_driver_has_a_power_table_and_sleeps_and_wakes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], iokit_host: Any) -> None:
    from iokit_host.testing import assert_power_state, sleep, wake

    assert new(capsys, "acme-keyboard", "--defaults", "--output", str(tmp_path))[0] == 0
    host = iokit_host(kexts=[tmp_path / "acme-keyboard" / "acme_keyboard"])
    driver = assert_power_state(host, "AcmeKeyboard", 1)
    assert len(host.power.pm_of(driver).table) == 2  # type: ignore[union-attr]
    sleep(host)
    assert_power_state(host, driver, 0)
    wake(host)
    assert_power_state(host, driver, 1)
    host.unplug("Apple Internal Keyboard")  # stop leaves the power tree (pm_stop)
    assert host.power.pm_of(driver) is None and not host.diagnostics


# -- slow: installed, as a user does it ----------------------------------------------------------
IOREG_LINE = "+-o Apple Internal Keyboard@0"


@pytest.mark.slow
def test_a_scaffolded_keyboard_driver_installs_binds_and_passes_its_tests(
        iokit_venv: Venv, tmp_path: Path) -> None:
    # The venv's iokit-host is a regular (non-editable) install: the template comes from
    # the wheel's package data.
    iokit = str(iokit_venv.bin / "iokit")
    done = iokit_venv.run(iokit, "new", "acme-keyboard", "--defaults", "-o", tmp_path)
    assert "Next steps" in done.stdout
    package = tmp_path / "acme-keyboard"
    iokit_venv.pip_install(package)

    try:
        tree = iokit_venv.run(iokit, "ioreg", "-w", "0", env={"IOKIT_NO_CACHE": "1"}).stdout
        lines = tree.splitlines()
        (at,) = [i for i, line in enumerate(lines) if IOREG_LINE in line]
        assert "+-o AcmeKeyboard  <class AcmeKeyboard" in lines[at + 1], \
            "\n".join(lines[at:at + 3])

        tests = iokit_venv.run(iokit_venv.python, "-m", "pytest", "-q", "-p",
                               "no:cacheprovider", cwd=package, check=False)
        assert tests.returncode == 0, tests.stdout + tests.stderr
        assert "4 passed" in tests.stdout  # binds, other nub, unplug, sleep and wake
    finally:
        # Leave the shared environment as other tests expect it.
        iokit_venv.run(iokit_venv.python, "-m", "pip", "uninstall", "-y", "-q", "acme-keyboard")


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["IOPCIDevice", "IOUSBHostDevice", "AppleSMCDevice"])
def test_generated_tests_pass_for_other_provider_classes(iokit_venv: Venv, tmp_path: Path,
                                                         provider: str) -> None:
    name = f"gen-{provider.lower()}"
    iokit_venv.run(iokit_venv.bin / "iokit", "new", name, "--defaults", "-o", tmp_path,
                   "--provider-class", provider)
    iokit_venv.pip_install(tmp_path / name)
    try:
        tests = iokit_venv.run(iokit_venv.python, "-m", "pytest", "-q", "-p",
                               "no:cacheprovider", cwd=tmp_path / name, check=False)
        assert tests.returncode == 0, tests.stdout + tests.stderr
    finally:
        # Leave the shared environment as other tests expect it.
        iokit_venv.run(iokit_venv.python, "-m", "pip", "uninstall", "-y", "-q", name)




# -- the tox matrix: what hostmin and hostlatest install ---------------------------------------
def _tox_deps(package: Path, env: dict[str, str]) -> dict[str, list[str]]:
    """``tox config``'s resolved deps of both host factors, for the running Python."""
    names = [f"py3{sys.version_info.minor}-host{factor}" for factor in ("min", "latest")]
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", "TOX_", "IOKIT_HOST_", "IOKIT_SDK_"))} | env
    # env_list cut to these two: tox would otherwise look for every Python in the matrix.
    done = subprocess.run([sys.executable, "-m", "tox", "config", "-e", ",".join(names),
                           "-k", "deps", "-x", f"tox.env_list={','.join(names)}"], cwd=package, env=environ, capture_output=True,
                          text=True, check=True, timeout=120)
    deps: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        if line.startswith("[testenv:"):
            current = deps.setdefault(line.split("-host")[1].rstrip("]"), [])
        elif line.startswith("  "):
            current.append(line.strip())
    return deps


def test_hostmin_installs_the_floor_of_the_drivers_ranges_and_hostlatest_the_newest(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from packaging.requirements import Requirement
    from packaging.version import Version

    new(capsys, "acme-keyboard", "--defaults", "-o", str(tmp_path))
    package = tmp_path / "acme-keyboard"
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    declared = {r.name: r for r in map(Requirement, [
        *project["dependencies"], *project["optional-dependencies"]["test"]])}
    floors = {name: next(s.version for s in declared[name].specifier if s.operator == ">=")
              for name in ("iokit-sdk", "iokit-host")}
    deps = _tox_deps(package, {})
    pinned = [Requirement(line) for line in deps["min"]]
    assert [r.name for r in pinned] == ["iokit-sdk", "iokit-host"]
    for requirement in pinned:
        (spec,) = requirement.specifier
        assert spec.operator == "==" and Version(spec.version) == Version(floors[requirement.name])
    # the newest within the declared range: the same upper bound, no floor
    for requirement in map(Requirement, deps["latest"]):
        assert set(requirement.specifier) == {s for s in declared[requirement.name].specifier
                                              if s.operator == "<"}


def test_a_checkout_feeds_both_factors_unless_hostmin_is_given_its_own(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new(capsys, "acme-keyboard", "--defaults", "-o", str(tmp_path))
    package = tmp_path / "acme-keyboard"
    checkout = {"IOKIT_HOST_SPEC": "/src/host", "IOKIT_SDK_SPEC": "/src/host/sdk"}
    assert _tox_deps(package, checkout) == {"min": ["/src/host/sdk", "/src/host"],
                                            "latest": ["/src/host/sdk", "/src/host"]}
    older = {"IOKIT_HOST_MIN_SPEC": "/old/host", "IOKIT_SDK_MIN_SPEC": "/old/host/sdk"}
    assert _tox_deps(package, checkout | older) == {"min": ["/old/host/sdk", "/old/host"],
                                                    "latest": ["/src/host/sdk", "/src/host"]}
    # and the README says so
    readme = (package / "README.md").read_text()
    assert "today both install the same version" in readme and "IOKIT_HOST_MIN_SPEC" in readme


# -- the generated README: every command it lists runs -----------------------------------------
def _readme_commands(readme: Path) -> list[str]:
    """The lines of the README's first ``bash`` block (each with its trailing # comment)."""
    block = readme.read_text().split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["IOUSBHostInterface", "IOPCIDevice", "AppleSMCDevice"])
def test_every_command_in_the_generated_readme_runs(iokit_venv: Venv, tmp_path: Path,
                                                    provider: str) -> None:
    name = f"readme-{provider.lower()}"
    iokit_venv.run(iokit_venv.bin / "iokit", "new", name, "--defaults", "-o", tmp_path,
                   "--provider-class", provider)
    package = tmp_path / name
    commands = _readme_commands(package / "README.md")
    assert [c.split()[0] for c in commands][:3] == ["pip", "pytest", "iokit"]
    assert commands[-1].split()[0] == "tox"
    checkout = Path(__file__).resolve().parents[2]
    iokit_venv.pip_install("tox>=4.11", options=())  # what a driver author has installed
    # iokit-host is not on an index here: the README's own advice, with wheels of this
    # checkout (a folder would be built in place); the matrix is cut to this Python.
    minor = sys.version_info.minor
    env = {"IOKIT_SDK_SPEC": str(iokit_venv.build_wheel(checkout / "sdk")),
           "IOKIT_HOST_SPEC": str(iokit_venv.build_wheel(checkout)), "IOKIT_NO_CACHE": "1",
           "TOXENV": f"py3{minor}-hostmin,py3{minor}-hostlatest"}
    try:
        for command in commands:
            done = iokit_venv.run("bash", "-c", command, cwd=package, env=env, check=False)
            assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"
            if command.startswith("tox"):
                generated = sum(path.read_text(encoding="utf-8").count("\ndef test_")
                                for path in (package / "tests").glob("test_*.py"))
                assert f"{generated} passed" in done.stdout, done.stdout
                assert f"py3{minor}-hostmin: OK" in done.stdout
                assert f"py3{minor}-hostlatest: OK" in done.stdout
    finally:
        iokit_venv.run(iokit_venv.python, "-m", "pip", "uninstall", "-y", "-q", name)

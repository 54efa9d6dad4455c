"""``iokit new`` refusing what it cannot make a driver of: names Python cannot import or that
are no folder of their own, answers that would not survive their file's format, outputs that
lead nowhere, a git or copier setup that cannot work; each named, nothing written."""

from __future__ import annotations

import ast
import errno
import os
import plistlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from iokit_host.cli import main
from tests.cli.test_new import _nothing_written, new


@pytest.mark.parametrize(("name", "extra", "expected"), [
    ("import", (), "'import' is a Python keyword"),  # `import import`: a syntax error
    ("acme", ("--package", "class"), "'class' is a Python keyword"),
    ("iokit-host", (), "'iokit_host' is the name of an installed module"),  # the host itself
    ("pip", (), "'pip' is the name of an installed module"),
    ("acme", ("--package", "json"), "'json' is"),  # the standard library
])
def test_a_package_python_cannot_import_as_the_drivers_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
        extra: tuple[str, ...], expected: str) -> None:
    status, _, err = new(capsys, name, "--defaults", "-o", str(tmp_path), *extra)
    assert status == 1
    assert "error[new-bad-package-name]" in err and expected in err and "--package" in err
    assert _nothing_written(tmp_path)


@pytest.mark.parametrize(("extra", "expected"), [
    (("--class-name", "None"), "'None' is a Python keyword"),  # `class None`: a syntax error
    (("--class-name", "Exception"), "'Exception' is a Python builtin's name"),
    # The template's own provider class: the kext failed to load (kext-load-failed) and the
    # generated tests failed out of the box; IOPMrootDomain is the kernel's own.
    (("--class-name", "IOUSBHostInterface"), "'IOUSBHostInterface' is a class IOKit has"),
    (("--class-name", "IOPMrootDomain"), "'IOPMrootDomain' is a class IOKit has"),
    # Imported, or assigned, in the module that defines the class: one replaced the other.
    (("--class-name", "IOPMPowerState"), "already imported from iokit_sdk in the generated acme/"),
    (("--class-name", "POWER_STATES"), "already assigned in the generated acme/driver.py"),
])
def test_a_driver_class_the_generated_code_cannot_define_as_its_own_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...],
        expected: str) -> None:
    status, _, err = new(capsys, "acme", "--defaults", "-o", str(tmp_path), *extra)
    assert status == 1
    assert "error[new-bad-class-name]: class_name:" in err and expected in err
    assert "--class-name" in err  # the hint
    assert _nothing_written(tmp_path)


@pytest.mark.parametrize("class_name", ["Any", "Mapping", "Driver", "AppleBCM43xx"])
def test_a_driver_class_named_as_something_its_module_does_not_bind_is_made(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], class_name: str) -> None:
    """Only a module with the driver class in it counts (``typing.Any`` is the tests')."""
    status, _, err = new(capsys, "acme", "--defaults", "-o", str(tmp_path), "--class-name",
                         class_name, "--data", "user_client=true")
    assert status == 0, err
    for module in (tmp_path / "acme").rglob("*.py"):
        ast.parse(module.read_text(encoding="utf-8"))


@pytest.mark.parametrize(("name", "expected"), [
    ("", "NAME must name the new package's folder"),  # was "'.' already exists"
    ("..", "NAME must name the new package's folder"),
    ("a" * 300, "NAME is 300 bytes long"),  # was the OS's "File name too long"
])
def test_a_name_that_is_no_folder_of_its_own_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, expected: str) -> None:
    status, _, err = new(capsys, "--defaults", "-o", str(tmp_path), "--", name)
    assert status == 1 and "error[new-invalid-answer]" in err and expected in err
    assert _nothing_written(tmp_path)


def test_a_refused_name_leaves_no_folder_behind(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`iokit new a/b` was refused but left an empty folder `a`."""
    assert main(["new", "a/b", "--defaults", "--output", str(tmp_path / "out")]) == 1
    assert "error[new-" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_refused_answer_under_an_output_through_dotdot_removes_only_what_it_made(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`-o x/../mine` with a refused answer removed the user's own empty `mine` (it did not
    exist before `x` was made, so it was taken for one of the folders made) and left `x`."""
    (tmp_path / "mine").mkdir()
    status, _, err = new(capsys, "acme", "--defaults", "--package", "json",
                         "-o", str(tmp_path / "x" / ".." / "mine"))
    assert status == 1 and "error[new-bad-package-name]" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
    assert _nothing_written(tmp_path / "mine")


def test_quotes_backslashes_and_markup_in_text_answers_render_valid_files(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Answers were pasted raw into TOML, Python and plist strings: a quote ended the string."""
    text = 'C:\\new "quoted" <b>&amp; """ {{ x }}'
    status, _, err = new(capsys, "acme-widget", "--defaults", "-o", str(tmp_path),
                         "--provider-class", "AcmeNub", "--author", 'O"Brien \\ é',
                         "--description", text, "--data", f"name_match={text}")
    assert status == 0, err
    root = tmp_path / "acme-widget"
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["description"] == text
    assert project["authors"] == [{"name": 'O"Brien \\ é'}]
    info = plistlib.loads((root / "acme_widget" / "Info.plist").read_bytes())
    (personality,) = info["IOKitPersonalities"].values()
    assert personality["IONameMatch"] == text
    for source in root.rglob("*.py"):
        compile(source.read_text(encoding="utf-8"), str(source), "exec")
    package = ast.parse((root / "acme_widget" / "__init__.py").read_text(encoding="utf-8"))
    assert (ast.get_docstring(package) or "").startswith(text + ".")


@pytest.mark.parametrize(("option", "value", "expected"), [
    ("--description", "two\nlines", "description: 'two\\nlines' holds the control character"),
    ("--author", "a\x1bb", "author: 'a\\x1bb' holds the control character '\\x1b'"),
    ("--data", "resource=a\x00b", "resource: 'a\\x00b' holds the control character"),
])
def test_a_control_character_in_a_text_answer_is_refused_by_name(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str,
        expected: str) -> None:
    extra = ("--provider-class", "IOResources") if "resource" in value else ()
    status, _, err = new(capsys, "acme-widget", "--defaults", "-o", str(tmp_path),
                         *extra, option, value)
    assert status == 1 and "error[new-invalid-answer]" in err and expected in err, err
    assert "hint: an answer is one line of printable text" in err
    assert _nothing_written(tmp_path)


def test_an_answer_the_shell_could_not_decode_is_refused_by_name(tmp_path: Path) -> None:
    """Non-UTF-8 bytes in argv failed inside copier with a codec message naming no answer."""
    result = subprocess.run(
        [os.fsencode(sys.executable), b"-m", b"iokit_host", b"new", b"acme-widget",
         b"--defaults", b"-o", os.fsencode(tmp_path), b"--author", b"caf\xe9"],
        capture_output=True, timeout=120, check=False,
        env={**os.environ, "LC_ALL": "C.UTF-8", "PYTHONUTF8": "1"})
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 1, err
    assert "error[new-invalid-answer]: author: 'caf\\udce9' is not UTF-8 text" in err
    assert "Traceback" not in err and _nothing_written(tmp_path)


def test_a_symbolic_link_to_nothing_is_never_replaced_and_never_written_through(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A link to nothing (or a loop of links) as NAME was "cannot create: Not a directory",
    and as --output "File exists", as if nothing were wrong there."""
    (tmp_path / "acme-keyboard").symlink_to(tmp_path / "nowhere")
    os.symlink(tmp_path / "loop2", tmp_path / "loop")
    os.symlink(tmp_path / "loop", tmp_path / "loop2")
    status, _, err = new(capsys, "acme-keyboard", "--defaults", "-o", str(tmp_path))
    assert status == 1 and "error[new-destination-exists]" in err, err
    loop = tmp_path / "loop"
    status, _, err = new(capsys, "acme-keyboard", "--defaults", "-o", str(loop))
    assert status == 1, err
    assert (f"error[new-destination-unwritable]: {loop / 'acme-keyboard'}: cannot create "
            f"{loop / 'acme-keyboard'}: {os.strerror(errno.ELOOP)} ({loop})") in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acme-keyboard", "loop", "loop2"]
    assert not (tmp_path / "nowhere").exists()


def _new_process(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iokit_host", "new", "acme-widget",
                           "--defaults", "-o", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, **env})


def test_a_home_git_cannot_read_is_named_not_a_folder_that_cannot_be_created(
        tmp_path: Path) -> None:
    """copier runs ``git init``; with HOME a loop of links it failed, and the user read
    "cannot create acme-widget: ProcessExecutionError"."""
    os.symlink(tmp_path / "home2", tmp_path / "home")
    os.symlink(tmp_path / "home", tmp_path / "home2")
    done = _new_process(tmp_path, HOME=str(tmp_path / "home"),
                        XDG_CONFIG_HOME=str(tmp_path / "home"))
    assert done.returncode == 1, done.stdout
    assert "error[new-git-failed]: copier ran '" in done.stderr
    assert "Too many levels of symbolic links" in done.stderr
    assert "hint: git must be able to read its configuration" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("settings", "expected"), [
    ("defaults: {author: X\n", "expected ',' or '}'"),  # not YAML: was an internal error
    ("defaults: 3\n", "Input should be a valid dictionary"),  # was "new-invalid-answer"
])
def test_a_broken_copier_settings_file_is_named(tmp_path: Path, settings: str,
                                                expected: str) -> None:
    path = tmp_path / "settings.yml"
    path.write_text(settings, encoding="utf-8")
    done = _new_process(tmp_path, COPIER_SETTINGS_PATH=str(path))
    assert done.returncode == 1, done.stdout
    assert (f"error[new-copier-settings-invalid]: {path}: copier's settings file is not "
            "valid: ") in done.stderr and expected in done.stderr
    assert "internal error" not in done.stderr
    assert not (tmp_path / "out").exists()

"""Throwaway virtual environments: install a driver the way its users will, then look.

A kext that works from a checkout can still ship without its ``Info.plist`` or entry point;
only a real ``pip install`` into a clean environment shows it (the IOKit analogue is
installing into ``/Library/Extensions`` and running ``kmutil load``). :func:`create_venv`
builds such an environment with the running iokit-host and iokit-sdk installed from the same
source they came from (a local checkout when that is where they were installed from).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import venv as stdlib_venv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["Venv", "VenvCommandError", "create_venv", "requirement_for"]

#: What every environment gets first: a build backend recent enough for the drivers'
#: pyproject files, so later installs can skip build isolation (and the index).
BUILD_TOOLS = ("setuptools>=68", "wheel")


class VenvCommandError(AssertionError):
    """A command in the environment failed; the message carries its output."""


@dataclass(frozen=True, slots=True)
class Venv:
    """A virtual environment at ``path``."""

    path: Path

    @property
    def bin(self) -> Path:
        return self.path / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> Path:
        return self.bin / ("python.exe" if os.name == "nt" else "python")

    def run(self, *args: str | Path, cwd: str | Path | None = None,
            env: Mapping[str, str] | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command with this environment's ``bin`` first on PATH.

        :raises VenvCommandError: when ``check`` and the command exits non-zero.
        """
        environ = {**os.environ, "VIRTUAL_ENV": str(self.path),
                   "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
                   "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
        # The caller's interpreter state must not leak in (a pytest run sets these).
        for name in ("PYTHONPATH", "PYTHONHOME", "PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
            environ.pop(name, None)
        argv = [str(a) for a in args]
        done = subprocess.run(argv, cwd=cwd, env=environ, capture_output=True, text=True,
                              check=False)
        if check and done.returncode != 0:
            raise VenvCommandError(f"{' '.join(argv)} exited {done.returncode}\n"
                                   f"--- stdout\n{done.stdout}--- stderr\n{done.stderr}")
        return done

    def pip_install(self, *requirements: str | Path,
                    options: Sequence[str] = ("--no-build-isolation",)) -> None:
        """``pip install`` into this environment (local folders build with its setuptools).

        A local project folder is first built into a wheel by :meth:`build_wheel`, so that
        installing never writes into its sources.
        """
        wanted = [self.build_wheel(r, options=options) if _is_project(r) else r
                  for r in requirements]
        self.run(self.python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 *options, *wanted)

    def build_wheel(self, project: str | Path,
                    options: Sequence[str] = ("--no-build-isolation",)) -> Path:
        """A wheel of the project folder ``project``, built in a scratch folder of this
        environment.

        setuptools writes ``build/`` and ``*.egg-info`` beside the sources it builds, where a
        checkout would change and two test runs at once (``tox -p``) would race; an extra
        configuration file (``DIST_EXTRA_CONFIG``) sends both into the scratch folder, one per
        build, since a ``build/`` shared by two projects leaks one's modules into the other's
        wheel.
        """
        scratch = Path(tempfile.mkdtemp(prefix="build-", dir=self.path))
        config = scratch / "setuptools.cfg"
        config.write_text(f"[build]\nbuild_base = {scratch / 'build'}\n"
                          f"[egg_info]\negg_base = {scratch}\n", encoding="utf-8")
        self.run(self.python, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                 "--no-deps", *options, "--wheel-dir", scratch, Path(project).resolve(),
                 env={"DIST_EXTRA_CONFIG": str(config)})
        (wheel,) = scratch.glob("*.whl")
        return wheel


def _is_project(requirement: str | Path) -> bool:
    """Whether ``requirement`` names a local project folder rather than a requirement."""
    folder = Path(requirement)
    return folder.is_dir() and any((folder / name).is_file()
                                   for name in ("pyproject.toml", "setup.py"))


def create_venv(path: str | Path, *, requirements: Sequence[str | Path] = ()) -> Venv:
    """A new environment at ``path`` with pip, the build tools and ``requirements``."""
    env = Venv(Path(path))
    stdlib_venv.EnvBuilder(with_pip=True, clear=True).create(env.path)
    env.pip_install(*BUILD_TOOLS, options=())
    if requirements:
        env.pip_install(*requirements)
    return env


def requirement_for(distribution: str, package: str) -> str:
    """How to install ``distribution`` as it is installed here: its local folder or ``==``.

    :param package: its import package, used to find a checkout it was installed from.
    """
    dist = metadata.distribution(distribution)
    direct = dist.read_text("direct_url.json")
    if direct:
        url = json.loads(direct).get("url", "")
        if url.startswith("file://"):
            return unquote(urlparse(url).path)
    spec = sys.modules.get(package) or __import__(package)
    source = Path(spec.__file__ or "").resolve().parent.parent
    if (source / "pyproject.toml").is_file():
        return str(source)
    return f"{distribution}=={dist.version}"

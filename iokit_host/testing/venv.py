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
        """``pip install`` into this environment (local folders build with its setuptools)."""
        self.run(self.python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 *options, *requirements)


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

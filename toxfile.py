"""tox's inline plugin for this repository: every tox environment builds the local projects it
installs (``./sdk``, the sample drivers) in its own temporary folder, never in the sources.

setuptools writes ``*.egg-info`` (and, for a non-editable install, ``build/``) beside the
sources it builds, so with ``tox -p`` several environments would write the same folders at
once. tox.ini points ``DIST_EXTRA_CONFIG`` (setuptools' extra configuration file) at
``{env_tmp_dir}/setuptools.cfg``; this hook writes that file before each install, sending the
egg-info into that environment's own ``env_tmp_dir``. (``build/`` is not redirected: one
build folder shared by several projects leaks each one's modules into the next one's wheel,
so the environments install the local projects editable, which needs no ``build/``.)
"""

from __future__ import annotations

from typing import Any

from tox.plugin import impl

CONFIG_NAME = "setuptools.cfg"


@impl
def tox_on_install(tox_env: Any, arguments: Any, section: str, of_type: str) -> None:
    """Before tox installs anything into ``tox_env``: write its setuptools configuration."""
    folder = tox_env.env_tmp_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_NAME).write_text(f"[egg_info]\negg_base = {folder}\n", encoding="utf-8")

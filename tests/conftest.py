"""Shared test configuration: where the real-world corpus lives (skip cleanly when absent), and
Ctrl-C delivered as a user's terminal delivers it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    # A shell without job control (a CI script's `cmd &`) starts background jobs with SIGINT
    # ignored, which every command the tests start inherits: the tests of what Ctrl-C does
    # would see nothing happen. Python's own handler, as an interactive start installs it.
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("IOKIT_CORPUS", REPO.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus folder (../shared/corpus, or $IOKIT_CORPUS); skips when absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    return CORPUS

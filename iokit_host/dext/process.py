"""One driver process: launch, check-in, calls with deadlines, death and reaping.

IOKit asks kernelmanagerd to spawn a dext (``OSKext::requestDaemonLaunch``) and waits up to
120 s for it to check in with the token it was given (``IOUserServerCheckInToken``). Here the
kernel spawns ``python -m iokit_host.dext.driver_process`` (:mod:`.server`) itself with a
socket pair (its calls) and a life pipe whose closing ends the child when the kernel's process
dies, however it dies. The
check-in and every call wait in **real** time (the peer is a real process; the host clock moves
only when driven): ``IOKIT_DEXT_CHECKIN_TIMEOUT`` (10 s) and ``IOKIT_DEXT_CALL_TIMEOUT`` (10 s).
A child is always reaped (``wait``), so no zombie stays behind.
"""

from __future__ import annotations

import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from iokit_sdk.memory import IOBufferMemoryDescriptor

from iokit_host.dext.channel import DRIVER_FRAME, Channel, ChannelClosed, ChannelTimeout
from iokit_host.dext.descendants import kill_descendants

__all__ = ["DextProcessError", "DriverProcess", "Events"]

#: How long a killed or released child may take to be reaped (it is SIGKILLed first).
_REAP_S = 10.0
#: How long a child whose channel closed may take to exit on its own (for its status) before
#: it is killed: the kernel waits meanwhile, so briefly (a crashing one exits at once).
_EXIT_GRACE_S = 2.0

#: What the kernel does with a message the process sent on its own (``op`` set).
Events = Callable[[dict[str, Any]], None]


class DextProcessError(Exception):
    """The driver process is gone (crashed, killed, hung, never checked in); ``reason`` says how."""


class DriverProcess:
    """A driver process for one server name.

    :param name: the server name (``IOUserServerName``, or an isolated kext's bundle id).
    :param package: the kext's import package; None for a codeless dext (stand-in classes).
    :param paths: folders the child needs on its import path first.
    """

    def __init__(self, name: str, package: str | None, paths: tuple[str, ...] = ()) -> None:
        self.name = name
        self.package = package
        self.paths = paths
        self.proc: subprocess.Popen[bytes] | None = None
        self.channel: Channel | None = None
        self.pid: int | None = None
        #: Readable when the process has exited (a pidfd): its socket alone does not say so
        #: when a child it forked holds a copy. None where the system has no pidfds.
        self.exit_fd: int | None = None
        self._life_w: int | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self.dead_reason: str | None = None
        self._status_lost = False  # the system reaped the process (see _reap)
        #: Set once the kernel has counted this process's death as a crash.
        self.crash_counted = False
        self._seq = 0
        self._replies: dict[int, dict[str, Any]] = {}
        #: The calls waiting for their replies (nested calls: more than one). A reply to any
        #: other is dropped: one kept for a call nobody waits on (a reply sent twice, or to
        #: a call never made) was kept for ever, and a process sending them grew the kernel.
        self._waiting: set[int] = set()
        #: Where the process's shared buffers are files (``IOKIT_DEXT_MEMORY_DIR``).
        self.memory_dir: str | None = None

    # -- launch --------------------------------------------------------------------------------
    def launch(self, checkin_timeout_s: float | None) -> None:
        """Spawn the child and wait for its check-in.

        :raises DextProcessError: it exited, or did not check in within the timeout (then it
            is killed); either way it is reaped.
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        life_r, life_w = os.pipe()
        token = secrets.token_hex(16)
        # Its buffers live here, beside the kernel's own; removed when the process goes.
        self.memory_dir = tempfile.mkdtemp(prefix="dext-",
                                           dir=IOBufferMemoryDescriptor.backing_directory)
        env = dict(os.environ, IOKIT_DEXT_TOKEN=token, IOKIT_DEXT_MEMORY_DIR=self.memory_dir,
                   PYTHONPATH=os.pathsep.join(_import_path(self.paths)))
        command = [sys.executable, "-m", "iokit_host.dext.driver_process",
                   "--fd", str(theirs.fileno()),
                   "--life-fd", str(life_r), "--name", self.name,
                   "--package", self.package or ""]
        try:
            # A process group of its own: what it forks can be killed with it (_kill_group),
            # and a terminal's Ctrl-C reaches the kernel alone, which stops its processes in
            # order. Not a session: the scheduler would put a session in a group of its own.
            self.proc = subprocess.Popen(
                command, pass_fds=(theirs.fileno(), life_r), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=self._log, env=env, process_group=0)
        except OSError as error:
            ours.close()
            os.close(life_w)
            self._remove_memory()
            raise DextProcessError(f"could not start a driver process: {error}") from error
        finally:
            theirs.close()
            os.close(life_r)
        self.pid = self.proc.pid
        try:
            self.exit_fd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):  # no pidfds here: its socket's end must do
            self.exit_fd = None
        self._life_w = life_w
        self.channel = Channel(ours, limit=DRIVER_FRAME)
        self._check_in(token, checkin_timeout_s)

    def _check_in(self, token: str, timeout_s: float | None) -> None:
        assert self.channel is not None
        try:
            message = self.channel.receive(timeout_s)
        except ChannelTimeout:
            raise self._fail(f"did not check in within {timeout_s:g} s and was killed") from None
        except ChannelClosed:
            raise self._fail(self._exit_reason("before checking in")) from None
        except BaseException:
            # Cut short (the driver-call watchdog, Ctrl-C): a process left waiting for its
            # check-in to be read would outlive every record of it.
            self._fail("was abandoned before checking in and was killed")
            raise
        if message.get("op") != "checkin" or not secrets.compare_digest(
                str(message.get("token", "")), token):
            raise self._fail("check-in token verification failed; the process was killed")

    # -- calls ---------------------------------------------------------------------------------
    def call(self, message: dict[str, Any], timeout_s: float | None, what: str,
             events: Events | None = None) -> dict[str, Any]:
        """Send ``message`` and return its reply.

        While the call runs the process may ask the kernel for things (a power request, an
        async completion: messages with an ``op``); each is handed to ``events``, which may
        call the process again (calls nest, as IORPC's do). Replies carry their call's
        ``seq``, so a reply that overtakes a nested one waits for its caller.

        :raises DextProcessError: the process died during the call, or did not answer within
            ``timeout_s`` (then it is killed: a hang is a crash).
        """
        channel = self.channel
        if channel is None or self.dead_reason is not None:
            raise DextProcessError(self.dead_reason or "the driver process is not running")
        self._seq += 1
        seq = message["seq"] = self._seq
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        self._waiting.add(seq)
        try:
            channel.send(message)
            remaining = timeout_s  # the whole time, for the first wait: the call just began
            while True:
                got = channel.receive(remaining)
                if "op" in got:
                    if events is not None:
                        events(got)
                    if self.dead_reason is not None:  # it died during a nested call
                        raise DextProcessError(self.dead_reason)
                else:
                    answered = got.get("seq")
                    if answered == seq or type(answered) is not int:
                        self._waiting.discard(seq)  # a copy of it behind it is dropped
                        if channel.has_queued():
                            self._after(events)
                        return got
                    if answered in self._waiting:
                        self._replies[answered] = got
                reply = self._replies.pop(seq, None)  # answered during a nested call
                if reply is not None:
                    self._waiting.discard(seq)
                    self._after(events)
                    return reply
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise ChannelTimeout(f"no reply within {timeout_s:g} s")
        except ChannelTimeout:
            raise self._fail(f"did not answer {what} within {timeout_s:g} s and was "
                             "killed") from None
        except ChannelClosed:
            try:
                reason = self._exit_reason(f"during {what}")
            except BaseException:  # abandoned while reading its status: still its crash
                self._fail(f"closed its channel during {what} and was killed")
                raise
            raise self._fail(reason) from None
        except BaseException:
            # The kernel gave up on the call (the driver-call watchdog abandoned it, Ctrl-C)
            # while the process still owes the reply: a process that stops answering is
            # killed, as DriverKit kills a dext that hangs, so no later call waits on it
            # again; its next call, or the kernel's watch, reports the crash.
            self._fail(f"did not answer {what} before the kernel abandoned the call, and was "
                       "killed")
            raise
        finally:
            self._waiting.discard(seq)
            self._replies.pop(seq, None)

    def _after(self, events: Events | None) -> None:
        """What arrived behind a reply, in the same read: replies wait for their callers,
        the process's own messages are handled now (nothing wakes the kernel for them)."""
        channel = self.channel
        while channel is not None and channel.has_queued():
            got = channel.receive(0)
            if "op" not in got:
                answered = got.get("seq")
                if type(answered) is int and answered in self._waiting:
                    self._replies[answered] = got
            elif events is not None:
                events(got)

    def answer(self, seq: Any, result: Any) -> None:
        """Answer the process's request ``seq`` (a ``kcall``); a gone process is noticed by
        its next call or by the kernel's watch."""
        if self.channel is not None and self.dead_reason is None:
            try:
                self.channel.send({"op": "answer", "seq": seq, "result": result})
            except ChannelClosed:
                pass

    @property
    def alive(self) -> bool:
        return self.dead_reason is None and self.proc is not None

    def exited(self) -> bool:
        """Whether the process has exited, whatever its socket says (not reaped yet where
        there are pidfds: its group is killed first)."""
        return self.proc is not None and self._exited_within(0)

    def died(self) -> str:
        """Record that the process is gone (its socket closed); reap it; the reason."""
        if self.dead_reason is None:
            self._fail(self._exit_reason("while idle"))
        assert self.dead_reason is not None
        return self.dead_reason

    def stop(self) -> None:
        """End the process on purpose (the kernel is going away): not a crash."""
        if self.dead_reason is None:
            self.dead_reason = "stopped"
            if self.channel is not None:
                try:
                    self.channel.send({"op": "exit"})
                except ChannelClosed:
                    pass
        self._kill_and_reap()

    # -- death ---------------------------------------------------------------------------------
    def _fail(self, reason: str) -> DextProcessError:
        self.dead_reason = reason
        self._kill_and_reap()
        return DextProcessError(reason)

    def _exited_within(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the process to exit, without reaping it (its pidfd), so
        its group can still be killed by number; where there are no pidfds, reaping it."""
        if self.exit_fd is not None:
            return bool(select.select([self.exit_fd], [], [], seconds)[0])
        assert self.proc is not None
        try:
            self.proc.wait(seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    def _kill_group(self) -> None:
        """SIGKILL the process and what it forked: it leads a process group of its own
        (``process_group=0``), which its children stay in unless they leave it, and is the
        subreaper of those that do (:mod:`.descendants`). Never once it is reaped: its number
        may then be another process's."""
        if self.proc is None or self.proc.returncode is not None:
            return
        # First what left the group (a setsid'd helper): the process is the subreaper of its
        # tree only while it lives, so its descendants are walked before it is killed.
        kill_descendants(self.proc.pid)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):  # all gone (or the pid reused): the
            if not self._reap(os.WNOHANG):           # process itself, by its handle
                self.proc.kill()

    def _reap(self, flags: int) -> bool:
        """Reap the process if it has exited (``waitpid`` with ``flags``), setting
        ``returncode`` (negative for a signal); True once it is reaped. With SIGCHLD ignored (a
        kext's ``signal.signal(SIGCHLD, SIG_IGN)``) the system reaps children itself and
        ``waitpid`` fails, which ``Popen`` reports as a clean exit, status 0: here the status
        is noted as lost instead."""
        proc = self.proc
        assert proc is not None
        if proc.returncode is not None:
            return True
        try:
            pid, status = os.waitpid(proc.pid, flags)
        except ChildProcessError:
            self._status_lost = True
            proc.returncode = 0  # reaped: its number must never be signalled again
            return True
        if pid == 0:  # still running
            return False
        proc.returncode = os.waitstatus_to_exitcode(status)
        return True

    def _kill_and_reap(self) -> None:
        proc = self.proc
        self._kill_group()  # its forked children too: it is not reaped yet
        if proc is not None:
            try:
                proc.wait(_REAP_S)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL not delivered
                pass
        if self.channel is not None:
            self.channel.close()
        if self.exit_fd is not None:
            os.close(self.exit_fd)
            self.exit_fd = None
        if self._life_w is not None:
            os.close(self._life_w)
            self._life_w = None
        self._log.close()
        self._remove_memory()

    def _remove_memory(self) -> None:
        if self.memory_dir is not None:
            shutil.rmtree(self.memory_dir, ignore_errors=True)
            self.memory_dir = None

    def _exit_reason(self, when: str) -> str:
        proc = self.proc
        garbled = self.channel.garbled if self.channel is not None else None
        if garbled is not None:  # alive and breaking the protocol: not waited for
            self._kill_group()
            return f"the driver process wrote an unreadable message {when} ({garbled}) and " \
                   "was killed"
        status: int | None = None
        if proc is not None:
            exited = self._exited_within(_EXIT_GRACE_S)
            self._kill_group()  # what it forked, before reaping it frees its group's number
            if not exited:  # it closed its channel but lived on
                last = self.last_error()
                return f"the driver process closed its channel {when} and did not exit; it " \
                       "was killed" + (f" ({last})" if last else "")
            self._reap(0)  # at once: it has exited
            status = None if self._status_lost else proc.returncode
        if status is None:
            how = "exited" if proc is None else _STATUS_LOST
        elif status < 0:
            how = f"was killed by {_signal_name(-status)}"
        else:
            how = f"exited with status {status}"
        last = self.last_error()
        return f"the driver process {how} {when}" + (f" ({last})" if last else "")

    def last_error(self) -> str:
        """The last line the child wrote on stderr (an escaping exception's summary)."""
        try:
            self._log.seek(0)
            lines = self._log.read()[-4096:].decode("utf-8", "replace").strip().splitlines()
        except (OSError, ValueError):
            return ""
        return lines[-1][:300] if lines else ""


#: Said of a process whose exit status the system discarded (Popen would read it as 0).
_STATUS_LOST = ("exited; its exit status could not be read (the system reaped it first: "
                "SIGCHLD was ignored in the host process)")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _import_path(extra: tuple[str, ...]) -> list[str]:
    """The child's import path: ``extra``, then the kernel's own (so it finds the same SDK and
    kext packages, including folders a test put on ``sys.path``)."""
    seen: list[str] = []
    for entry in (*extra, *sys.path):
        path = str(Path(entry or ".").resolve())
        # os.path.isdir: Path.is_dir raised on a name too long for the system (a PYTHONPATH
        # entry of 6,000 characters), and no dext could start.
        if path not in seen and os.path.isdir(path):
            seen.append(path)
    return seen

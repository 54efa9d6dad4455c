"""The running kernel's front end: ``iokit kernel``, its socket, protocol and sessions.

A Mac's kernel runs for as long as the machine does and programs reach it through Mach ports:
IOKitLib's requests, user clients' calls, notifications. Here ``iokit kernel`` keeps one booted
host alive and serves other processes over a Unix-domain socket (:mod:`.listener`: per user,
mode 0600): msgpack frames (:mod:`iokit_sdk.iokitlib.wire`, docs/protocol.md), one
:class:`~.session.Session` per connection with its handles (:mod:`.handles`) and bounded
outgoing queues, the peer's pid, uid and gid from ``SO_PEERCRED`` (:mod:`.peer`). The front end
(:mod:`.frontend`) reads every socket without blocking and hands each request, in order, to
the one work loop (:mod:`.requests`); tools read the registry as a snapshot
(:mod:`.snapshot`) through :mod:`.client`.
"""

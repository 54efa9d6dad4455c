"""DriverKit here: IOUserServer, drivers in their own processes (``IOUserServer.cpp``).

A dext's personalities name ``IOUserServerName`` and ``IOUserClass``. The kernel keeps a proxy
in the registry (``IOClass``, normally ``IOUserService``, renamed to the ``IOUserClass``) and
runs the driver class itself in a server process (one per service, or one per
``IOUserServerName`` with ``IOUserServerOneProcess``), once its entitlements pass, launched on
first match and checked in with a one-time token (``IOUserServerCheckInToken``). Every
lifecycle call the kernel makes on the proxy goes through the kernel's pluggy hooks as for any
driver, and the proxy forwards it over a socket (the IORPC Mach message's place) with a
deadline. A server that dies or hangs is a crash: the kernel terminates its services with
rematch so a relaunched server takes the devices, and stops relaunching after more than three
crashes in 24 hours of host time (``OSDextStatistics``). Any ordinary kext can be placed in a
server the same way (``--isolate``, ``IOKitHostIsolate``), as a UMDF driver host does.

Modules: :mod:`.channel` (frames with deadlines), :mod:`.process` (launch, check-in, reap),
:mod:`.descendants` (what a process forked, daemons included, goes with it),
:mod:`.server` (the driver process's main), :mod:`.link` (its end of the socket: calls in,
requests out), :mod:`.driverside` (what a driver sees there), :mod:`.remote` (kernel objects
as proxies there), :mod:`.kobjects` (the kernel objects a process was shown, and its registry
questions), :mod:`.dextnotify` (matching and interest notifications a process installs), :mod:`.usermemory` (its shared
buffers), :mod:`.proxy` (the kernel-side classes), :mod:`.upcalls` (what a process asks of
the kernel: power requests), :mod:`.completions` (async references lent to processes),
:mod:`.memory` (a process's buffers as the kernel holds them), :mod:`.crashes` (the daily crash
limit), :mod:`.crash_policy` (what a crash sets off), :mod:`.placement` (which personalities run out of process), :mod:`.reuse` (which
process: one per service, or ``IOUserServerOneProcess``), :mod:`.entitlements` (a dext's
entitlements, from beside its Info.plist) and :mod:`.entitled` (DriverKit's entitlement
checks), :mod:`.rematch` (``IORematchPersonality``, ``IORematchCount``), :mod:`.manager` (one
kernel's servers). docs/driverkit.md is the user's guide.
"""

__all__: list[str] = []

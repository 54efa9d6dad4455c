"""The kernel: IOKit's work loop and what runs on it.

IOKit serialises every registry change and every driver call through work loops and command
gates, and drives matching from ``IOService::probeCandidates``. Here one
:class:`~iokit_host.kernel.workloop.IOKernel` per host runs that loop; its parts are the matching
pass driver (:mod:`.binding`), kext loading on first match (:mod:`.kext_loading`), the lifecycle
steps (:mod:`.lifecycle`), termination (:mod:`.termination`), starts parked on resources
(:mod:`.waiting`), matching notifications (:mod:`.notifications`), interest notifications and
``messageClients`` (:mod:`.interest`), candidates' fates
(:mod:`.outcomes`), the guard every call into driver code goes through, with its watchdog
(:mod:`.driver_calls`, :mod:`.driver_results`, :mod:`.watchdog`), what a driver may not
change in the host's process (:mod:`.host_fence`), and the pluggy plugin manager (:mod:`.plugins`), which admits host plugins one
at a time (:mod:`.plugin_admission`) and fences them off from the calls they watch
(:mod:`.plugin_fence`). The parts depend on the narrow
:class:`~iokit_host.kernel.protocol.WorkLoop` protocol, never on the concrete kernel, so each can
be read and tested alone.
"""

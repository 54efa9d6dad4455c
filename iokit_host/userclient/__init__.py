"""User clients: the kernel side of ``IOServiceOpen`` and ``IOConnectCallMethod`` (IOUserClient.cpp).

IOKit opens a user client for a program (``is_io_service_open_extended``: ``newUserClient``,
``initWithTask``, attach, start, the creator and entitlement checks), routes its calls
(``is_io_connect_method``: the transport limits, then ``externalMethod``), and closes it once
(``clientClose``), also when the program dies (``clientDied``). Here :mod:`.opening` is the
open sequence, :mod:`.calls` one call, :mod:`.connections` the table of open connections with
close and death, and :mod:`.entitlements` the operator's policy that grants entitlements to
uids, gids and executables (the codesigned entitlements of a real kernel). The socket that
carries programs' requests is :mod:`iokit_host.server`.
"""

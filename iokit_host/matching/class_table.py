"""Known superclasses of vendor and Apple driver classes that real registries show as providers.

``ioreg`` prints a node's class but not its superclass chain unless run with ``-i``, and most
public dumps were not. The host's :data:`~iokit_host.matching.classes.STANDARD_CLASSES` covers the IOKit
families; this table adds driver classes (and the family classes they need) whose ancestry is
documented *outside* any dump the conformance measure checks -- each entry cites its source.
Ancestry is never inferred from a recorded binding: a class nobody documents is left out, and a
user who knows it (an ``ioreg -i`` dump, a header) declares it with ``iokit conformance
--classes FILE`` or a machine model's ``[classes]`` table.

Precedence (:class:`~iokit_host.matching.classes.ClassRegistry`): the standard family table and
this one must not overlap, and neither may disagree with a Mac source of the public knowledge
base (:mod:`iokit_host.matching.ancestry`; tests/matching/test_class_table.py checks both):
where they would, the sourced fact decides and the hand entry goes. A machine's own record
(``ioreg -i`` chains, an archive, a model's ``[classes]``) wins over both; ``--classes``
declarations fill only the gaps they and the public tables leave.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["KNOWN_DRIVER_CLASSES"]

KNOWN_DRIVER_CLASSES: Mapping[str, str] = {
    # IOSerialFamily classes (Apple headers): "class IOModemSerialStreamSync : public
    # IOSerialStreamSync" in phracker/MacOSX-SDKs MacOSX10.3.9.sdk/.../Kernel.framework/Headers/
    # IOKit/serial/IOModemSerialStreamSync.h; "class IORS232SerialStreamSync : public
    # IOSerialStreamSync" in acidanthera/MacKernelSDK Headers/IOKit/serial/IORS232SerialStreamSync.h.
    "IOModemSerialStreamSync": "IOSerialStreamSync",
    "IORS232SerialStreamSync": "IOSerialStreamSync",
    # IOBluetoothFamily serial streams: acidanthera/MacKernelSDK
    # Headers/IOKit/bluetooth/serial/IOBluetoothSerialClient.h (reconstructed IOBluetoothFamily
    # headers, cjiang 2021): "class IOBluetoothSerialClientModemStreamSync : public
    # IOModemSerialStreamSync" and "class IOBluetoothSerialClientSerialStreamSync : public
    # IORS232SerialStreamSync" (same declarations in AppleBluetooth's IOBluetoothFamily sources).
    "IOBluetoothSerialClientModemStreamSync": "IOModemSerialStreamSync",
    "IOBluetoothSerialClientSerialStreamSync": "IORS232SerialStreamSync",
    # NVIDIA framebuffer (GeForce/NVDAResman): pedroresende/NVIDIAEGPUSupport
    # NVDAEGPUSupport/NVDA.h (Yifan Lu's reconstruction of the class for an eGPU patch kext):
    # "class NVDA : public IONDRVFramebuffer".
    "NVDA": "IONDRVFramebuffer",
}

"""Known superclasses of vendor and Apple driver classes that real registries show as providers.

``ioreg`` prints a node's class but not its superclass chain unless run with ``-i``, and most
public dumps were not. The host's :data:`~iokit_host.matching.classes.STANDARD_CLASSES` covers the IOKit
families; this table adds driver classes (and the family classes they need) whose ancestry is
documented *outside* any dump the conformance measure checks -- each entry cites its source.
Ancestry is never inferred from a recorded binding: a class nobody documents is left out, and a
user who knows it (an ``ioreg -i`` dump, a header) declares it with ``iokit conformance
--classes FILE`` or a machine model's ``[classes]`` table.

Precedence (:class:`~iokit_host.matching.classes.ClassRegistry`): the standard family table wins over this
one (they must not overlap), and both win over classes a machine model or ``--classes`` file
declares, since ``declare`` keeps the first superclass it knows -- as in IOKit, where a class's
superclass is fixed by the kext that defines it, not by whoever names it later.
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

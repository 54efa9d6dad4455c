"""Matching and registry key names: the string constants of IOKit's ``IOKitKeys.h``.

Code refers to Apple's keys only through these names, so a typo is an ``AttributeError``
rather than a personality that silently never matches.
"""

from __future__ import annotations

# Planes (kIOServicePlane, kIOPowerPlane, kIODeviceTreePlane, ...)
SERVICE_PLANE = "IOService"
POWER_PLANE = "IOPower"
DEVICE_TREE_PLANE = "IODeviceTree"
AUDIO_PLANE = "IOAudio"
FIREWIRE_PLANE = "IOFireWire"
USB_PLANE = "IOUSB"
ACPI_PLANE = "IOACPIPlane"
STANDARD_PLANES = (SERVICE_PLANE, POWER_PLANE, DEVICE_TREE_PLANE)

# Personality and matching keys
PROVIDER_CLASS = "IOProviderClass"
CLASS = "IOClass"
NAME_MATCH = "IONameMatch"
NAME_MATCHED = "IONameMatched"
PROPERTY_MATCH = "IOPropertyMatch"
PROPERTY_EXISTS_MATCH = "IOPropertyExistsMatch"
RESOURCE_MATCH = "IOResourceMatch"
RESOURCE_MATCHED = "IOResourceMatched"
PARENT_MATCH = "IOParentMatch"
PATH_MATCH = "IOPathMatch"
LOCATION_MATCH = "IOLocationMatch"
REGISTRY_ENTRY_ID_MATCH = "IORegistryEntryID"
MATCHED_SERVICE_COUNT_MATCH = "IOMatchedServiceCountMatch"
MATCH_CATEGORY = "IOMatchCategory"
DEFAULT_MATCH_CATEGORY = "IODefaultMatchCategory"
PROBE_SCORE = "IOProbeScore"
USER_CLIENT_CLASS = "IOUserClientClass"
PERSONALITY_PUBLISHER = "IOPersonalityPublisher"
PROVIDER_MERGE_PROPERTIES = "IOProviderMergeProperties"
KIT_DEBUG = "IOKitDebug"
MATCH_DEFER = "IOMatchDefer"
BSD_NAME = "BSD Name"

# Registry entry naming
NAME = "IOName"
LOCATION = "IOLocation"
RESOURCES_CLASS = "IOResources"

# Bundle (Info.plist) keys
BUNDLE_IDENTIFIER = "CFBundleIdentifier"
BUNDLE_IDENTIFIER_KERNEL = "CFBundleIdentifierKernel"
BUNDLE_VERSION = "CFBundleVersion"
BUNDLE_EXECUTABLE = "CFBundleExecutable"
BUNDLE_NAME = "CFBundleName"
BUNDLE_COMPATIBLE_VERSION = "OSBundleCompatibleVersion"
BUNDLE_LIBRARIES = "OSBundleLibraries"
BUNDLE_REQUIRED = "OSBundleRequired"
BUNDLE_IS_INTERFACE = "OSBundleIsInterface"
KERNEL_RESOURCE = "OSKernelResource"
KIT_PERSONALITIES = "IOKitPersonalities"

# DriverKit personality keys
USER_SERVER_NAME = "IOUserServerName"
USER_CLASS = "IOUserClass"

# PCI family
PCI_MATCH = "IOPCIMatch"
PCI_PRIMARY_MATCH = "IOPCIPrimaryMatch"
PCI_SECONDARY_MATCH = "IOPCISecondaryMatch"
PCI_CLASS_MATCH = "IOPCIClassMatch"
PCI_TUNNEL_COMPATIBLE = "IOPCITunnelCompatible"

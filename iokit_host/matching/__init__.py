"""Matching: which personality drives which nub, as IOKit decides it.

The counterparts are ``IOService::matchPassive``/``matchInternal`` (:mod:`.passive`, with the
generic keys in :mod:`.generic_keys`), ``IOCatalogue`` (:mod:`.catalogue`), OSMetaClass's class
registry and what is known of closed classes' ancestry (:mod:`.classes`, :mod:`.class_table`;
public sources chosen by OS release: :mod:`.ancestry`, :mod:`.releases`; what a kext class
may not override: :mod:`.sealed`),
and the families' ``matchPropertyTable`` for PCI, USB, ACPI/device-tree names and merged
properties (:mod:`.families`). Nothing here runs a driver: the kernel package does that.
"""

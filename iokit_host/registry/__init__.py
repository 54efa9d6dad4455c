"""The IORegistry: entries linked in planes, ids, and paths (xnu ``IORegistryEntry``)."""

from iokit_host.registry.path import PathError, from_path, get_path, locations_equal
from iokit_host.registry.registry import REGISTRY_ID_RESERVED, IORegistry, RegistryError

__all__ = [
           "REGISTRY_ID_RESERVED",
           "IORegistry",
           "PathError",
           "RegistryError",
           "from_path",
           "get_path",
           "locations_equal",
]

"""Machine models: the hardware tree a host boots (what a Mac's firmware and bus drivers publish).

- :mod:`.model`: the value objects (:class:`MachineModel`, :class:`NubSpec`, :class:`PlaneLink`);
- :mod:`.format`: the TOML file format (``parse_machine``, ``read_machine``, ``dump_machine``);
- :mod:`.loader`: ``load_machine(spec)`` and ``list_machines()``;
- :mod:`.build`: ``populate(host, model)``, nubs into a host's registry;
- :mod:`.sysfs`: ``sysfs_machine()``, this Linux machine as a model.
"""

from __future__ import annotations

from iokit_host.machine.errors import MachineModelError
from iokit_host.machine.format import dump_machine, parse_machine, read_machine
from iokit_host.machine.loader import list_machines, load_machine
from iokit_host.machine.model import MachineModel, NubSpec, PlaneLink

__all__ = ["MachineModel", "MachineModelError", "NubSpec", "PlaneLink", "dump_machine",
           "list_machines", "load_machine", "parse_machine", "read_machine"]

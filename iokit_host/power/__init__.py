"""Power management: IOServicePM (each service's power states and changes) and IOPMrootDomain
(system sleep and wake, assertions), on the host clock.

One :class:`~iokit_host.power.manager.PowerManager` per kernel (``host.power``) implements the
requests a driver makes through the SDK (``pm_init``, ``join_pm_tree``,
``register_power_driver``, ``change_power_state_to``, acknowledgements, ``activity_tickle``,
...), runs every power change on one PM work queue, one at a time per service and without
recursion over the tree, calls drivers through the ``iokit_set_power_state``,
``iokit_power_state_will_change_to``/``did_change_to`` and ``iokit_message`` hooks, and keeps
the sleep/wake log ``pmset -g log`` reads. Modules, one concept each:

- :mod:`.tables`: power-state tables, validated, and state selection from domain flags;
- :mod:`.pm`: the per-service block and its live ``IOPowerManagement`` property;
- :mod:`.tree`: the IOPower plane (``IOPowerConnection``, ``IORootParent``);
- :mod:`.queue`: the PM work queue of resumable tasks;
- :mod:`.change`: one power change, drops leaves first and rises root first;
- :mod:`.acks`: driver answers, acknowledgements and their timeouts;
- :mod:`.idle`: idle timers and activity tickles;
- :mod:`.messages`: the root domain's system messages and their answers;
- :mod:`.assertions`: power assertions;
- :mod:`.rootdomain`: IOPMrootDomain and system sleep and wake;
- :mod:`.standins`: stand-in power management for recorded machines;
- :mod:`.boot`: the root domain published at boot, and recorded power management adopted;
- :mod:`.controls`: the host's controls: sleep, wake, assertions, device activity, the clock;
- :mod:`.log`: the sleep/wake log;
- :mod:`.pmset_text`: what ``pmset -g log`` and ``pmset -g assertions`` print;
- :mod:`.hooks`: the built-in plugin's power hooks;
- :mod:`.context`: what the parts see of the whole;
- :mod:`.manager`: the whole, as the kernel and the host see it.
"""

from iokit_host.power.assertions import Assertion
from iokit_host.power.log import PowerEvent, PowerLog
from iokit_host.power.manager import PowerManager
from iokit_host.power.rootdomain import IOPMrootDomain, Transition

__all__ = ["Assertion", "IOPMrootDomain", "PowerEvent", "PowerLog", "PowerManager", "Transition"]

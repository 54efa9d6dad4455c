"""iokit-host: a host kernel modelling Apple's IOKit (registry, kexts, matching, lifecycle).

Nothing runs at import time and there are no module-level singletons: an ``IOKitHost`` owns
all state, so tests build as many as they like.
"""

__all__: list[str] = []

"""The registry explorer in the browser: IORegistryExplorer for a running kernel.

On a Mac, IORegistryExplorer (Xcode's additional tools) shows the live registry as a tree per
plane, the selected entry's properties, and highlights what appears, changes and leaves while
it watches. Here the explorer is a small web application (Starlette, served by uvicorn; plain
JavaScript modules and CSS shipped as package data, no front-end build) that is a *client* of
the kernel protocol (docs/protocol.md): it reads snapshots, ``explain`` and the sleep/wake log
over the kernel's socket, as every other tool does, so the one work loop stays the only code
that touches the registry. ``iokit kernel --http ADDR`` serves it beside the socket (a thread
of the kernel's process, talking to the socket like any client); ``iokit explore`` serves it
for a running kernel (``--kernel``) or boots a private one (``--machine``).

Modules: the typed rendering of property values (:mod:`.values`), one snapshot as trees,
entries and search (:mod:`.view`), what changed between two snapshots (:mod:`.changes`), the
matching picture from ``explain`` (:mod:`.matching`), the power timeline from ``pmset -g log``
(:mod:`.timeline`), the kernel connection (:mod:`.bridge`), the live watcher (:mod:`.live`), the
HTTP application (:mod:`.app`, :mod:`.errors`) and serving it (:mod:`.serve`).
"""

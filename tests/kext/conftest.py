"""Session fixtures: real kext distributions installed with pip into a temporary site dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kext.dists import DRIVER_SOURCE, info_plist, pip_install_target, write_wheel

KPI = {"com.apple.kpi.iokit": "9.0"}


@pytest.fixture(scope="session")
def kext_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site dir holding real installed kext distributions (one ``pip install --target``)."""
    wheels = tmp_path_factory.mktemp("wheels")
    site = tmp_path_factory.mktemp("site")
    personality = {"Demo": {"IOProviderClass": "IOPCIDevice", "IOClass": "DemoDriver"}}
    built = [
        write_wheel(wheels, "iokit-demo-driver", "1.0", "demo_driver",
                    plist=info_plist("com.example.demo", "1.0",
                                     libraries={"com.example.lib": "1.2", **KPI},
                                     personalities=personality),
                    entry_points={"com.example.demo": "demo_driver"},
                    files={"demo_driver/__init__.py": DRIVER_SOURCE.format(cls="DemoDriver")}),
        write_wheel(wheels, "iokit-example-lib", "2.0", "example_lib",
                    plist=info_plist("com.example.lib", "2.0", compat="2.0"),
                    entry_points={"com.example.lib": "example_lib"}),
        write_wheel(wheels, "iokit-example-lib-legacy", "1.5", "example_lib_legacy",
                    plist=info_plist("com.example.lib", "1.5", compat="1.0"),
                    entry_points={"com.example.lib": "example_lib_legacy"}),
        write_wheel(wheels, "iokit-broken-manifest", "1.0", "broken_manifest",
                    plist=info_plist("com.example.broken", "1.0fc0"),
                    entry_points={"com.example.broken": "broken_manifest"}),
        write_wheel(wheels, "iokit-no-plist", "1.0", "no_plist", plist=None,
                    entry_points={"com.example.noplist": "no_plist"}),
        write_wheel(wheels, "iokit-broken-import", "1.0", "broken_import",
                    plist=info_plist("com.example.brokenimport"),
                    entry_points={"com.example.brokenimport": "broken_import"},
                    files={"broken_import/__init__.py": "raise RuntimeError('no hardware')\n"}),
        write_wheel(wheels, "not-a-kext", "3.0", "not_a_kext", plist=None),
    ]
    pip_install_target(built, site)
    return site

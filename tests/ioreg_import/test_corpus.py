"""Every real dump in the corpus imports, quickly, with what the files show."""

from __future__ import annotations

import time
from pathlib import Path

from iokit_host.ioreg_import import import_dump


def test_all_corpus_dumps_import(corpus: Path) -> None:
    dumps = sorted((corpus / "ioreg").glob("*.txt"))
    assert len(dumps) >= 6
    started = time.perf_counter()
    for path in dumps:
        model = import_dump(path)
        assert model.source == str(path)
        assert sum(1 for _ in model.nubs()) > 100
    assert time.perf_counter() - started < 10


def test_macbookpro_dump_has_typed_pci_nubs_and_drivers(corpus: Path) -> None:
    model = import_dump(corpus / "ioreg" /
                        "khronokernel__DarwinDumped__MacBookPro_MacBookPro8_2_IORegDump_IOReg.txt")
    assert model.name == "macbookpro8,2"
    nubs = {nub.name: nub for _, nub in model.nubs() if nub.class_name == "IOPCIDevice"}
    assert nubs["MCHC"].properties["vendor-id"] == bytes.fromhex("86800000")
    drivers = [nub for _, nub in model.nubs() if nub.recorded_driver]
    assert any(d.class_name == "AppleACPIPCI" for d in drivers)
    assert len(model.root_properties["IOKitDiagnostics"]) > 3


def test_device_tree_dump_imports_as_device_tree_plane(corpus: Path) -> None:
    model = import_dump(corpus / "ioreg" /
                        "khronokernel__DarwinDumped__MacBookPro_MacBookPro8_2_IORegDump_IORegDT.txt")
    assert model.name == "macbookpro8,2"
    children = model.root.children
    assert children and all(c.planes[0].plane == "IODeviceTree" for c in children)
    assert not any(nub.recorded_driver for _, nub in model.nubs())

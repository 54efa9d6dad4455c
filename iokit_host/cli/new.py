"""``iokit new``: scaffold a driver package from the template (Xcode's new-kext project).

Renders ``templates/driver`` with copier's Python API into ``DIR/NAME``: a pip-installable
distribution with the ``iokit.kexts`` entry point, an ``Info.plist`` with one personality, a
driver class, tests that use the pytest plugin, a tox matrix and a README. ``--dext`` makes
it a DriverKit dext (Xcode's DriverKit driver template): the personality names
``IOUserServerName``, ``IOUserClass`` and the kernel's ``IOClass``, and an
``Entitlements.plist`` stands for its code signature's entitlements. Non-interactive
with flags or ``--defaults`` (and whenever stdin is not a terminal); it never overwrites.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from iokit_host.template_questions import TemplateAnswerError

__all__ = ["configure", "run"]

#: option dest -> template question
_QUESTIONS = {
    "bundle_id": "bundle_id",
    "provider_class": "provider_class",
    "class_name": "class_name",
    "package": "package",
    "kext_version": "version",
    "author": "author",
    "description": "description",
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME",
                        help="distribution and folder name, e.g. acme-keyboard")
    parser.add_argument("--bundle-id", metavar="ID",
                        help="CFBundleIdentifier, reverse-DNS (default com.example.driver.CLASS)")
    parser.add_argument("--provider-class", metavar="CLASS",
                        help="IOProviderClass to match: IOUSBHostInterface (default), "
                             "IOUSBHostDevice, IOPCIDevice, IOResources or any class")
    parser.add_argument("--class-name", metavar="CLASS", help="driver class (IOClass)")
    parser.add_argument("--package", metavar="MODULE", help="import package name")
    parser.add_argument("--kext-version", metavar="VERSION",
                        help="CFBundleVersion in OSKext syntax, e.g. 1.0.0 or 1.0b3")
    parser.add_argument("--dext", action="store_true",
                        help="a DriverKit dext: the driver runs in a process of its own "
                             "(IOUserServerName, IOUserClass) with an Entitlements.plist; "
                             "--provider-class IOUSBHostInterface (default) or IOUserResources")
    parser.add_argument("--author", metavar="NAME")
    parser.add_argument("--description", metavar="TEXT")
    parser.add_argument("--data", action="append", default=[], metavar="QUESTION=VALUE",
                        help="answer any other template question (repeatable), "
                             "e.g. --data pci_match=0x43a014e4")
    parser.add_argument("--defaults", action="store_true",
                        help="take every default instead of asking")
    parser.add_argument("--output", "-o", metavar="DIR", type=Path, default=Path("."),
                        help="create NAME inside DIR (default: the current directory)")


def answers_from(args: argparse.Namespace) -> dict[str, Any]:
    """The answers the options give; the template checks names and types when rendering."""
    answers: dict[str, Any] = {"name": args.name}
    for item in args.data:
        question, sep, value = item.partition("=")
        question = question.strip()
        if not sep or not question:
            raise TemplateAnswerError(f"--data takes QUESTION=VALUE, not {item!r}",
                                      reference="new-bad-data",
                                      hint="e.g. --data pci_match=0x43a014e4")
        if question == "name":
            raise TemplateAnswerError("--data cannot answer 'name'", reference="new-bad-data",
                                      hint="the name is the NAME argument: iokit new NAME")
        answers[question] = value
    for option, question in _QUESTIONS.items():
        value = getattr(args, option)
        if value is not None:
            answers[question] = value
    if getattr(args, "dext", False):
        answers["dext"] = True
    return answers


def run(args: argparse.Namespace) -> int:
    from iokit_host.scaffold import render_driver

    destination = args.output / args.name
    # A prompt needs a terminal; without one every unanswered question takes its default.
    defaults = args.defaults or not sys.stdin.isatty()
    render_driver(destination, answers_from(args), defaults=defaults)
    print(next_steps(destination))
    return 0


def next_steps(destination: Path) -> str:
    return "\n".join([
        f"Created {destination}/",
        "",
        "Next steps:",
        f"  cd {destination}",
        '  python -m pip install -e ".[test]"   # installs the kext (entry point iokit.kexts)',
        "  python -m pytest                     # boots a modelled machine with only this kext",
        "  iokit boot                           # the default machine with every installed kext",
        "  tox                                  # every Python x iokit-host version in tox.ini",
        ("    (until iokit-host is on PyPI: IOKIT_HOST_SPEC=<checkout> "
         "IOKIT_SDK_SPEC=<checkout>/sdk tox)"),
    ])

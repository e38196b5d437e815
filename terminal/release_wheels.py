"""Unpacking a verified release's wheels into its new virtual environment (pypa's installer).

Why not pip, as before: a bundle already is the complete set of wheels pip resolved when it
was built (tools/release.py), and the updater has checked every one against the signed
release.json. What is left is unpacking, writing the console scripts and byte-compiling,
which ``installer`` does in the updater's own process. Pip in its place cost an ensurepip
(pip and setuptools installed into every release), two more Python starts and a resolver
run: on the arm64 system of tests/test_arm64_install.py a release's environment took a third
longer to build that way (docs/performance.md), and a terminal carried a pip it never uses.

The updater may run with Debian's python3 straight from the release's qatys wheel (the first
installation, hardware/install-terminal.sh), where ``installer`` is not installed: it is then
imported from the bundle's own, verified installer wheel, which the release carries as a
dependency of qatys.
"""

from __future__ import annotations

import re
import sys
import sysconfig
import zipfile
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

INSTALLER_WHEEL = "installer-*.whl"
SCHEME_KEYS = ("purelib", "platlib", "scripts", "data")


class WheelsNotInstalled(Exception):
    """The environment could not be filled: a bundle without an installer, another Python."""


def _installer(staged: Path) -> ModuleType:
    """The ``installer`` package: this environment's, else the bundle's verified wheel."""
    try:
        import installer
    except ModuleNotFoundError:
        wheels = sorted(staged.glob(INSTALLER_WHEEL))
        if not wheels:
            raise WheelsNotInstalled("the bundle carries no installer wheel") from None
        sys.path.insert(0, str(wheels[-1]))
        import installer
    return installer


def scheme_of(environment: Path) -> dict[str, str]:
    """Where ``environment`` keeps packages and scripts: the standard virtual-environment
    layout of this interpreter, which must be the environment's own Python (the updater
    byte-compiles for the interpreter it runs on; ``venv`` wrote its version down)."""
    try:
        settings = (environment / "pyvenv.cfg").read_text(encoding="utf-8")
    except OSError as exc:
        raise WheelsNotInstalled(f"the new environment has no pyvenv.cfg: {exc}") from exc
    found = re.search(r"^version(?:_info)?\s*=\s*(\d+\.\d+)", settings, re.MULTILINE)
    ours = f"{sys.version_info.major}.{sys.version_info.minor}"
    if found is None or found.group(1) != ours:
        raise WheelsNotInstalled(f"the new environment runs Python "
                                 f"{found.group(1) if found else 'unknown'}, the updater "
                                 f"Python {ours}")
    paths = sysconfig.get_paths(scheme="venv", vars={"base": str(environment),
                                                     "platbase": str(environment)})
    scheme = {key: paths[key] for key in SCHEME_KEYS}
    scheme["headers"] = str(environment / "include" / "site" / f"python{ours}")
    return scheme


def install_wheels(environment: Path, wheels: Iterable[Path], staged: Path) -> None:
    """Every wheel of ``wheels`` unpacked into ``environment`` and byte-compiled."""
    installer = _installer(staged)
    from installer.destinations import SchemeDictionaryDestination
    from installer.exceptions import InstallerError
    from installer.sources import WheelFile

    destination = SchemeDictionaryDestination(
        scheme_of(environment), interpreter=str(environment / "bin" / "python"),
        script_kind="posix", bytecode_optimization_levels=(0,))
    for wheel in wheels:
        try:
            with WheelFile.open(wheel) as source:
                installer.install(source, destination, {"INSTALLER": b"qatys-update\n"})
        except (InstallerError, zipfile.BadZipFile) as exc:  # signed, yet not a wheel
            raise WheelsNotInstalled(f"{wheel.name}: {exc}") from exc

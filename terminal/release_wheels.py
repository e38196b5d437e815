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

import json
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

INSTALLER_WHEEL = "installer-*.whl"
SCHEME_KEYS = ("purelib", "platlib", "scripts", "data")
_PATHS_OF = ("import json, sys, sysconfig; "
             "print(json.dumps({'version': '%d.%d' % sys.version_info[:2], "
             "**sysconfig.get_paths()}))")


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


def scheme_of(environment: Path, timeout: float) -> dict[str, str]:
    """Where ``environment``'s own interpreter puts packages and scripts. Its Python must be
    this one: the updater byte-compiles for the interpreter it runs on."""
    try:
        done = subprocess.run([str(environment / "bin" / "python"), "-I", "-c", _PATHS_OF],
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise WheelsNotInstalled(f"the new environment's python did not answer within "
                                 f"{timeout} s") from None
    if done.returncode != 0:
        raise WheelsNotInstalled(f"the new environment's python does not run: "
                                 f"{done.stderr.strip()[-300:]}")
    paths = json.loads(done.stdout)
    ours = f"{sys.version_info.major}.{sys.version_info.minor}"
    if paths["version"] != ours:
        raise WheelsNotInstalled(f"the new environment runs Python {paths['version']}, the "
                                 f"updater Python {ours}")
    scheme = {key: paths[key] for key in SCHEME_KEYS}
    scheme["headers"] = str(environment / "include" / "site" / f"python{ours}")
    return scheme


def install_wheels(environment: Path, wheels: Iterable[Path], staged: Path,
                   timeout: float = 120) -> None:
    """Every wheel of ``wheels`` unpacked into ``environment`` and byte-compiled."""
    installer = _installer(staged)
    from installer.destinations import SchemeDictionaryDestination
    from installer.sources import WheelFile

    destination = SchemeDictionaryDestination(
        scheme_of(environment, timeout), interpreter=str(environment / "bin" / "python"),
        script_kind="posix", bytecode_optimization_levels=(0,))
    from installer.exceptions import InstallerError

    for wheel in wheels:
        try:
            with WheelFile.open(wheel) as source:
                installer.install(source, destination, {"INSTALLER": b"qatys-update\n"})
        except (InstallerError, zipfile.BadZipFile) as exc:  # signed, yet not a wheel
            raise WheelsNotInstalled(f"{wheel.name}: {exc}") from exc

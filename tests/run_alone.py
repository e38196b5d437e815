"""Run a random sample of tests one by one, each in a pytest process of its own, to show that
none depends on another having run: ``python -m tests.run_alone [COUNT] [SEED]``.

Its companion: ``QATYS_TEST_ORDER=reverse pytest tests/test_X.py`` runs each module's tests
from the last to the first (modules keep their order; see ``pytest_collection_modifyitems``
in tests/conftest.py), which shows that no test relies on one before it having run in the
same process (through a module fixture it changed). A module fixture is there only for what
its tests read, or where each test works in its own namespace (its own child, kindergarten
or terminal)."""

from __future__ import annotations

import random
import subprocess
import sys
import time


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else int(time.time())
    listed = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    tests = [line for line in listed if "::" in line and "test_install_script" not in line]
    sample = random.Random(seed).sample(tests, min(count, len(tests)))
    print(f"seed {seed}: {len(sample)} of {len(tests)} tests, each alone")
    failed = []
    for test in sample:
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               test], capture_output=True, text=True)
        verdict = "passed" if done.returncode == 0 else f"FAILED ({done.returncode})"
        print(f"  {verdict:12} {time.monotonic() - started:6.1f} s  {test}", flush=True)
        if done.returncode:
            failed.append(test)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

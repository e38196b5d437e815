"""The ``qatys`` command's start, before and after its commands were imported lazily
(qatys/lazygroup.py), side by side in one run: BASELINE (default 75bb6bc, the last commit
before) checked out beside this tree, the same packages, rounds interleaved so both sides see
the same machine. A terminal starts ``qatys terminal …`` for its service, each selfcheck and
each update's checks; on a Raspberry Pi (or under qemu, tests/test_arm64_install.py) an import
costs several times what it costs here.

    python -m bench cli_start        (QATYS_BENCH_CLI_ROUNDS, default 15)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.before_after import baseline_tree

BASELINE = os.environ.get("QATYS_BENCH_CLI_BASELINE", "75bb6bc")
ROUNDS = int(os.environ.get("QATYS_BENCH_CLI_ROUNDS", "15"))
COMMANDS = {
    "qatys --version": ["--version"],
    "qatys terminal --help": ["terminal", "--help"],
    "qatys terminal status (not enrolled)": ["terminal", "status", "--home", "/nonexistent"],
    "qatys server --help": ["server", "--help"],
}


def _seconds(tree: Path, argv: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "qatys", *argv], cwd=tree,
                          capture_output=True, text=True, check=False, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(tree)})
    seconds = time.perf_counter() - started
    expected = 2 if argv[:2] == ["terminal", "status"] else 0  # not enrolled: refused
    assert done.returncode == expected, (tree, argv, done.stderr[-500:])
    return seconds


def _runs_from(tree: Path) -> None:
    """Each side must run its own tree's qatys, not the editable install's."""
    done = subprocess.run([sys.executable, "-c", "import qatys.cli; print(qatys.cli.__file__)"],
                          cwd=tree, capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(tree)})
    assert done.stdout.strip().startswith(str(tree)), (tree, done.stdout)


def bench_cli_start() -> None:
    after = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="qatys-bench-") as base, \
            baseline_tree(Path(base)) as before:
        for tree in (before, after):  # bytecode written once, outside the rounds
            _runs_from(tree)
            for argv in COMMANDS.values():
                _seconds(tree, argv)
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(ROUNDS):
            for name, argv in COMMANDS.items():
                for side, tree in (("before", before), ("after", after)):
                    times.setdefault((name, side), []).append(_seconds(tree, argv))
    print(f"qatys command start, {ROUNDS} rounds, medians (before = {BASELINE}):")
    for name in COMMANDS:
        was = statistics.median(times[(name, "before")])
        now = statistics.median(times[(name, "after")])
        print(f"  {name}: before {was * 1000:.0f} ms, after {now * 1000:.0f} ms "
              f"(ratio {now / was:.2f})")

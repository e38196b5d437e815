"""The terminal's CPU budget on a Raspberry Pi 4 class board, from instruction counts.

Counts the instructions one QR pass (the kiosk's reader on one 1280×720 camera frame) and one
face look (the kiosk's look at a 640×480 frame: detection, landmarks, the 128-number
descriptor) execute on this x86_64 machine, with ``perf stat -e instructions`` where the
machine exposes its counters, else valgrind's callgrind (a virtual machine often has no
counters). Each is measured as the difference between a run of ``FEW`` and of ``MANY`` frames
in one worker process (``COUNTS``), so Python's start and the imports cancel out.

Then the Pi figure: x86-64 instructions × ``ARM_PER_X86`` ÷ ``A72_IPC`` instructions per
cycle ÷ 1.5 GHz. Both are assumptions, stated with the figures in docs/performance.md; a real
Pi replaces them (hardware/README.md, the first unit's checklist).

    python -m bench cpu_budget
    python -m bench.cpu_budget worker qr|face COUNT      # what is measured, COUNT frames
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

COUNTS = {"qr": (2, 8), "face": (1, 3)}
"""How many frames the short and the long run of each worker take (FEW, MANY)."""
ARM_PER_X86 = 1.2
"""AArch64 instructions per x86-64 instruction for this (mostly SIMD) code: an assumption.
Under callgrind the libraries take their SSE/AVX2 paths (valgrind has no AVX-512), 128 and
256 bits wide where the Pi's NEON is 128; AArch64 also needs separate address arithmetic."""
A72_IPC = 1.0
"""Instructions per cycle of a Cortex-A72 on image code: an assumption (it issues up to 3)."""
A72_HZ = 1.5e9
QR_FPS = 15.0
FACE_LOOKS_PER_S = 4.0  # terminal/kiosk/face_watch.py: LOOK_INTERVAL_S = 0.25
REPOSITORY = Path(__file__).resolve().parent.parent


def _qr_frames(count: int) -> list[object]:
    """Door frames as the camera gives them: mostly an empty doorway, one in four a card."""
    import cv2
    import numpy as np

    from protocol import cards
    from provisioning.card_print import IssuedCard, write_png
    from terminal.capture import simulated

    rng = np.random.default_rng(2026)
    today = date(2026, 11, 23)
    card = cards.Card("KG1", "child-00001-x7q", "ABCDEFGH", today, today + timedelta(days=730))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "card.png"
        write_png(IssuedCard(card, cards.sign_card(card, bytes(32)), "Әлихан", "Балабақша"),
                  path)
        picture = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    held = simulated.CONDITIONS[sorted(simulated.CONDITIONS)[0]]
    return [held(picture, rng) if i % 4 == 3 else simulated.empty_frame(rng)
            for i in range(count)]


def worker(kind: str, count: int) -> None:
    """The measured work: ``count`` QR passes or face looks, after the same setup."""
    import cv2
    import numpy as np

    if kind == "qr":
        from terminal.capture.decoders import default_reader

        reader = default_reader()
        frames = _qr_frames(8)
        grays = [f if f.ndim == 2 else cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)  # type: ignore[attr-defined]
                 for f in frames]
        reader.read(np.asarray(grays[0]))  # lazy set-up, outside the difference
        for i in range(count):
            reader.read(np.asarray(grays[i % len(grays)]))
        return
    from terminal.faces.engine import load_rgb, read_live_face
    from tests.face_pictures import FR

    person = load_rgb(FR / "tests__test_images__obama.jpg")
    frame = np.full((480, 640, 3), 200, dtype=np.uint8)
    person = cv2.resize(person, (person.shape[1] * 480 // person.shape[0], 480))
    left = (640 - person.shape[1]) // 2
    frame[:, left:left + person.shape[1]] = person
    read_live_face(frame.copy(), only_one=False, thorough=False)  # models load
    for _ in range(count):
        read_live_face(frame.copy(), only_one=False, thorough=False)


def _perf_works() -> bool:
    if shutil.which("perf") is None:
        return False
    done = subprocess.run(["perf", "stat", "-x,", "-e", "instructions:u", "true"],
                          capture_output=True, text=True, check=False)
    return done.returncode == 0 and "not supported" not in done.stderr \
        and "<not counted>" not in done.stderr


def _count(tool: str, kind: str, frames: int) -> int:
    argv = [sys.executable, "-m", "bench.cpu_budget", "worker", kind, str(frames)]
    if tool == "perf":
        done = subprocess.run(["perf", "stat", "-x,", "-e", "instructions:u", *argv],
                              capture_output=True, text=True, check=True, cwd=REPOSITORY)
        line = next(x for x in done.stderr.splitlines() if "instructions" in x)
        return int(line.split(",")[0])
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file="
                               f"{tmp}/out", *argv], capture_output=True, text=True,
                              check=True, cwd=REPOSITORY)
        found = re.search(r"Collected : (\d+)", done.stderr)
        assert found, done.stderr[-2000:]
        return int(found.group(1))


def per_frame(tool: str, kind: str) -> float:
    """x86-64 instructions of one frame: (MANY frames − FEW frames) / (MANY − FEW)."""
    few, many = COUNTS[kind]
    return (_count(tool, kind, many) - _count(tool, kind, few)) / (many - few)


def bench_cpu_budget() -> None:
    tool = "perf" if _perf_works() else "callgrind" if shutil.which("valgrind") else ""
    if not tool:
        print("  cpu budget: neither perf counters nor valgrind here; skipped")
        return
    print(f"  cpu budget, instructions counted with {tool} (x86_64), Pi 4 (Cortex-A72 at "
          f"{A72_HZ / 1e9:.1f} GHz) assumed {ARM_PER_X86} AArch64 instructions per x86-64 one "
          f"and {A72_IPC} per cycle:")
    load = 0.0
    for kind, rate, what in (("qr", QR_FPS, "QR pass, 1280x720 frame"),
                             ("face", FACE_LOOKS_PER_S, "face look, 640x480 frame")):
        x86 = per_frame(tool, kind)
        seconds = x86 * ARM_PER_X86 / A72_IPC / A72_HZ
        load += seconds * rate
        print(f"    {what:26s} {x86 / 1e6:8.1f} M x86 instructions -> {seconds * 1e3:6.1f} ms "
              f"on a Pi 4; at {rate:g}/s: {seconds * rate * 100:5.1f} % of one core")
    print(f"    both together: {load * 100:.0f} % of one core "
          f"({'fits' if load < 1.0 else 'does not fit'} in one; the QR decoder and the face "
          "stage are separate threads, a Pi 4 has four cores)")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "worker":
        worker(sys.argv[2], int(sys.argv[3]))
    else:
        bench_cpu_budget()

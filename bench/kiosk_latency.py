"""Frame-in to green-screen latency: a paced clip of cards through the real kiosk (decoder,
door, commit, server-sent event), timed from the frame's arrival to the event reaching an
SSE client of the kiosk page."""

from __future__ import annotations

import json
import statistics
import threading
import time
from pathlib import Path

import numpy as np
import requests

from terminal.capture import simulated
from terminal.capture.decoders import read_image
from terminal.capture.sources import ClipSource, write_clip
from terminal.home import open_terminal
from terminal.kiosk.run import run_kiosk
from tests.helpers import ServerProcess, free_port, run

CHILDREN = 20


def bench_kiosk_latency(server: ServerProcess, base: Path, enrol_home: Path) -> None:
    pictures = []
    for i in range(CHILDREN):
        out = base / f"latency-card-{i}.png"
        run("card", "issue", "--data", str(server.data_dir), "--child", f"child-{i:05d}-x7q",
            "--out", str(out))
        pictures.append(read_image(str(out)))
    rng = np.random.default_rng(9)
    frames = [simulated.empty_frame(rng) for _ in range(30)]
    frames += simulated.door_clip(pictures, rng, idle_frames=8)
    clip = write_clip(frames, base / "latency.avi")
    terminal = open_terminal(enrol_home, log=False)
    port, ready, stop = free_port(), threading.Event(), threading.Event()
    kiosk = threading.Thread(target=run_kiosk, args=(terminal, ClipSource(clip), port, ready,
                                                     stop), daemon=True)
    kiosk.start()
    ready.wait(30)
    latencies: list[float] = []
    deadline = time.monotonic() + len(frames) / 15 + 20
    with requests.get(f"http://127.0.0.1:{port}/events", stream=True, timeout=60) as stream:
        for line in stream.iter_lines(decode_unicode=True):
            if line.startswith("data: ") and '"captured_ns"' in line:
                event = json.loads(line[len("data: "):])
                latencies.append((time.monotonic_ns() - event["captured_ns"]) / 1e6)
                if event.get("colour") != "green":
                    print(f"  refused at the door: {event['text']['ru']}")
            if len(latencies) >= CHILDREN or time.monotonic() > deadline:
                break
    stop.set()
    kiosk.join(30)
    terminal.close()
    ordered = sorted(latencies)
    print(f"frame-in to green screen (SSE client), clip at 15 fps, {len(latencies)} of "
          f"{CHILDREN} cards shown: p50 {statistics.median(ordered):.1f} ms "
          f"p95 {ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]:.1f} ms")

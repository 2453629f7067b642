"""Peak memory of whisper-server per model and per slot.

For each model and slot count, starts the server, sends as many concurrent requests as it has
slots (so every whisper state has run its encoder and decoder), and reads the process's peak
resident set (VmHWM) and its resident set after serving (VmRSS). The peak can be set by loading
(the file and its quantised copy are both held for a moment); the resident set after serving is
what the slots keep, and its increase from one slot count to the next is what a slot costs.

usage: memory.py --server-bin PATH --model tiny.en=PATH --model base=PATH [--clip PATH]
"""

import argparse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engines import Server

SLOTS = (1, 2, 4)


def status_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def measure(binary: Path, model: Path, slots: int, clip: Path) -> tuple[float, float]:
    """(peak MiB, resident MiB after serving)."""
    server = Server(f"server {slots} slots", binary, model, threads=2, slots=slots)
    try:
        clients = [server.client() for _ in range(slots)]
        with ThreadPoolExecutor(slots) as pool:
            list(pool.map(lambda c: c.transcribe(clip), clients))
        pid = server.process.pid
        return status_mib(pid, "VmHWM"), status_mib(pid, "VmRSS")
    finally:
        server.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--server-bin", type=Path, required=True)
    p.add_argument("--model", action="append", required=True, help="NAME=PATH (repeatable)")
    p.add_argument("--clip", type=Path,
                   default=Path.home() / ".cache/whisper-operator/bench-clips-v1/medium.wav")
    a = p.parse_args()
    print("| model | slots | peak RSS MiB | RSS after serving MiB | per further slot MiB |",
          "|---|---|---|---|---|", sep="\n")
    for spec in a.model:
        name, path = spec.split("=", 1)
        readings = [measure(a.server_bin, Path(path), s, a.clip) for s in SLOTS]
        for i, (slots, (peak, resident)) in enumerate(zip(SLOTS, readings)):
            step = "-" if i == 0 else \
                f"{(resident - readings[i - 1][1]) / (slots - SLOTS[i - 1]):.1f}"
            print(f"| {name} | {slots} | {peak:.1f} | {resident:.1f} | {step} |", flush=True)


if __name__ == "__main__":
    main()

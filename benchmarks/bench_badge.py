"""Per-badge cost of layout + QR + ESC/POS bytes (target <= 20 ms), and jobs per second into the emulator.

Usage: python benchmarks/bench_badge.py [--badges 300] [--jobs 100] [--width 576] [--long-names]

``--long-names`` makes every name as long as the registration accepts (100 characters): the worst case of the
layout, which then breaks names over three or more lines instead of cutting them.

Every badge has a different name and a different code (as at a real kiosk), so no cache of a finished badge
can make the figure look better than the morning of the event will be. The emulator runs in a process of its
own, as a printer would; each job pays for a connection, the status query before, the raster and the status
query after.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from printers import BadgeData, job_bytes, make_printer, render_badge  # noqa: E402
from printers.badge import qr_matrix  # noqa: E402

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
FIRST = ["Ada", "María José", "Αλέξανδρος", "Александра", "Grace", "Łukasz", "Zoë", "Jean-Baptiste", "Nguyễn",
         "Siobhán", "Øyvind", "Chiamaka", "Wolfgang Amadeus", "Li", "Bartholomew"]
LAST = ["Lovelace", "Fernández-Castellanos", "Παπαδόπουλος", "Константинопольская", "Hopper", "Brzęczyszczykiewicz",
        "O'Neill", "de la Fuente y Rodríguez", "Văn An", "Ó Súilleabháin", "Kristiansen", "Okonkwo", "Mozart",
        "Na", "Featherstonehaugh-Cholmondeley"]
TITLES = ["", "Mayor", "Council Member", "Director of Public Works", "Deputy Assistant City Manager for Budget"]
ORGS = ["", "City of Sacramento", "County of Los Angeles", "Ville de Montréal", "Δήμος Αθηναίων", "Town of Ojai"]
BANDS = ["FULL CONFERENCE", "GUEST — EXPO & RECEPTIONS"]

EMULATOR = """
import sys
from printers import PrinterEmulator
emulator = PrinterEmulator().start()
print(emulator.port, flush=True)
sys.stdin.read()
emulator.stop()
"""


def badge_code(rng: random.Random) -> str:
    """A badge code shaped like the real ones: "B1" + 26 Crockford base32 characters."""
    return "B1" + "".join(rng.choice(CROCKFORD) for _ in range(26))


def long_name(rng: random.Random, length: int = 100) -> str:
    """A name of exactly ``length`` characters made of the sample names' parts."""
    name = ""
    while len(name) < length:
        name += f"{rng.choice(FIRST)} {rng.choice(LAST)} "
    return name[:length].rstrip(" -") + "a" * (length - len(name[:length].rstrip(" -")))


def badges(count: int, seed: int = 7, *, long_names: bool = False) -> list[BadgeData]:
    """``count`` different badges: names in several scripts, long and short (or all of the longest length)."""
    rng = random.Random(seed)
    return [BadgeData(badge_name=long_name(rng) if long_names else f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                      band_text=rng.choice(BANDS),
                      event_name="Annual Conference and Expo 2027", code=badge_code(rng), title=rng.choice(TITLES),
                      organization=rng.choice(ORGS), serial=f"{i:06d}") for i in range(count)]


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    return (f"mean {statistics.fmean(samples):6.2f} ms  p50 {pct(50):6.2f} ms  p99 {pct(99):6.2f} ms  "
            f"max {ordered[-1]:6.2f} ms")


def bench_render(items: list[BadgeData], width: int, profile: str) -> dict[str, list[float]]:
    """Per badge: the whole (layout + QR + bytes), and the QR and bytes parts on their own."""
    # Fonts and python-escpos's printer profiles load once per process (the worker pays it on its first job).
    job_bytes(render_badge(items[0], width=width).image, profile=profile)
    times: dict[str, list[float]] = {"total": [], "cpu": [], "layout+qr": [], "qr": [], "escpos": []}
    for data in items:
        cpu = time.thread_time()
        start = time.perf_counter()
        image = render_badge(data, width=width).image
        middle = time.perf_counter()
        job_bytes(image, profile=profile)
        end = time.perf_counter()
        times["cpu"].append((time.thread_time() - cpu) * 1000)
        qr_start = time.perf_counter()
        qr_matrix(data.code)
        qr_end = time.perf_counter()
        times["total"].append((end - start) * 1000)
        times["layout+qr"].append((middle - start) * 1000)
        times["escpos"].append((end - middle) * 1000)
        times["qr"].append((qr_end - qr_start) * 1000)
    return times


def bench_emulator(items: list[BadgeData], profile: str) -> tuple[float, int]:
    """Jobs per second from render to confirmed print, into an emulator in its own process."""
    process = subprocess.Popen([sys.executable, "-c", EMULATOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True, cwd=Path(__file__).resolve().parent.parent)
    try:
        port = int(process.stdout.readline())
        printer = make_printer("bench", {"backend": "network", "host": "127.0.0.1", "port": port,
                                         "profile": profile})
        start = time.perf_counter()
        for i, data in enumerate(items):
            printer.print_badge(render_badge(data, width=printer.width).image, job_name=f"bench-{i}")
        elapsed = time.perf_counter() - start
    finally:
        process.stdin.close()
        process.wait(10)
    return len(items) / elapsed, printer.width


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--badges", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--width", type=int, default=576, choices=[512, 576])
    parser.add_argument("--long-names", action="store_true", help="Every name 100 characters long.")
    args = parser.parse_args()
    profile = {576: "TM-L90", 512: "TM-T88V"}[args.width]
    items = badges(args.badges, long_names=args.long_names)
    print(f"{args.badges} badges, {args.width} dots wide ({profile}), every name and code different"
          + (", every name 100 characters" if args.long_names else ""))
    times = bench_render(items, args.width, profile)
    for key, label in (("total", "layout + QR + ESC/POS bytes"), ("cpu", "  the same, CPU time"),
                       ("layout+qr", "  layout (QR included)"),
                       ("qr", "  QR matrix alone"), ("escpos", "  ESC/POS bytes")):
        print(f"{label:30s} {summary(times[key])}")
    # CPU time is what the badge costs; wall time also counts whatever else the machine runs meanwhile.
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for key, label in (("total", "wall time"), ("cpu", "CPU time")):
        ordered = sorted(times[key])
        mean, p99 = statistics.fmean(ordered), ordered[round(0.99 * (len(ordered) - 1))]
        verdict = "meets" if mean <= 20 and p99 <= 20 else "MISSES"
        print(f"target <= 20 ms per badge, {label}: {verdict} it (mean {mean:.2f} ms, p99 {p99:.2f} ms)")
    rate, width = bench_emulator(badges(args.jobs, seed=11), profile)
    print(f"into the emulator (render + status + raster + confirmation, one connection per job): "
          f"{rate:6.1f} jobs/s over {args.jobs} jobs")


if __name__ == "__main__":
    main()

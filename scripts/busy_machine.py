"""CPU time of one quick-budget ``ibbench run`` on a quiet machine and with busy processes beside it.

    python scripts/busy_machine.py                 # writes results/benchmarks/busy-machine.md
    python scripts/busy_machine.py --busy 4 --command "ibbench run --task digits-mlp --estimator mine"

Runs the command once alone, then once with ``--busy`` CPU-bound processes (pure Python loops, one
core each) running beside it, and reports wall time and CPU time (user + system of the command and
its children, from ``getrusage``) for both, the ratio, and the torch thread count each run chose
(from its record's device string).  Start it on an otherwise quiet machine: the first run is the
reference.  The command's own default thread count applies; ``OMP_NUM_THREADS`` is removed from its
environment so that the default is what gets measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "benchmarks" / "busy-machine.md"
COMMAND = "ibbench run --task mnist-mlp --estimator aa-mine --budget quick"  # the README's quick start
BURNER = "while True: pass"


def timed(command: list[str], env: dict[str, str]) -> dict:
    """Wall and CPU seconds of ``command`` (children's rusage before and after), and its record."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "device": record["provenance"]["device"],
        "test_acc": (record.get("training") or {}).get("test_acc"),
        "record": record["id"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--busy", type=int, default=4, help="CPU-bound processes beside the second run (default 4)"
    )
    parser.add_argument("--command", default=COMMAND, help=f"the run to time (default: {COMMAND})")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an environment variable for both runs, e.g. GOMP_SPINCOUNT=300000 (OpenMP's own default)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="the markdown report")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env.update(item.split("=", 1) for item in args.env)
    with tempfile.TemporaryDirectory() as tmp:
        command = [*shlex.split(args.command), "--json", "--quiet", "--out", f"{tmp}/runs.jsonl"]
        quiet = timed(command, env)
        print(
            f"quiet: {quiet['wall_s']:.1f} s wall, {quiet['cpu_s']:.1f} CPU-s ({quiet['device']})",
            file=sys.stderr,
        )
        burners = [subprocess.Popen([sys.executable, "-c", BURNER]) for _ in range(args.busy)]
        try:
            time.sleep(5)  # let the burners settle (and the load average start to rise)
            busy = timed(command, env)
        finally:
            for b in burners:
                b.kill()
    print(f"busy: {busy['wall_s']:.1f} s wall, {busy['cpu_s']:.1f} CPU-s ({busy['device']})", file=sys.stderr)
    ratio = busy["cpu_s"] / quiet["cpu_s"]
    text = (
        f"# One quick run on a quiet machine and beside {args.busy} busy processes\n\n"
        f"Regenerate: `python scripts/busy_machine.py --busy {args.busy}"
        f"{''.join(f' --env {e}' for e in args.env)}{'' if args.command == COMMAND else f' --command {shlex.quote(args.command)}'}"
        f"{'' if args.out == OUT else f' --out {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}'}` "
        f"on an otherwise quiet machine "
        f"({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs here).  Command: "
        f"`{args.command}` with its default thread count (`OMP_NUM_THREADS` unset){', environment ' + ', '.join(args.env) if args.env else ''}.  CPU time is user + "
        f"system of the command and its children.\n\n"
        f"| machine | wall s | CPU s | device (threads chosen) | test acc |\n|---|---|---|---|---|\n"
        f"| quiet | {quiet['wall_s']:.1f} | {quiet['cpu_s']:.1f} | {quiet['device']} | {quiet['test_acc']} |\n"
        f"| {args.busy} busy processes | {busy['wall_s']:.1f} | {busy['cpu_s']:.1f} | {busy['device']} | "
        f"{busy['test_acc']} |\n\n"
        f"**CPU time busy / quiet: {ratio:.2f}** (the issue's target: at most 2).\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

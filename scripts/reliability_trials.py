"""Fault injection against the store and the runner: counts of trials, faults, records lost and duplicated.

    python scripts/reliability_trials.py      # about 3 minutes on 2 cores; writes results/reliability/trials.{md,json}

Each trial injects faults a user, a cluster or a third-party plugin produces and checks one promise:
concurrent writers lose and duplicate nothing; two runs of one suite on one store store each cell once;
a suite killed with SIGKILL and rerun ends with every cell exactly once; a plugin that returns NaN or
inf, raises, calls sys.exit, hangs, kills its process or returns numpy values gives a record (failed,
with its reason, or ok) while the suite completes; a plugin with a bad register target is skipped with
a message; a training run whose numbers hold NaN leaves a store every table reads; and each bad input is one line on stderr, exit status 2, nothing stored.
The test plugins are tests/plugin_fixtures/nan_plugin.py, installed into a temporary site folder.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "reliability"
sys.path.insert(0, str(ROOT))

from ibbench.store.cells import CellKey  # noqa: E402
from ibbench.store.results import ResultStore, RunRecord  # noqa: E402
from tests.test_cli import make_record  # noqa: E402
from tests.test_plugins import make_distribution  # noqa: E402

FAULT_ESTIMATORS = {  # estimator -> what its record must say
    "test-nan-estimate": "estimate is nan",
    "test-inf-estimate": "estimate is inf",
    "test-raise": "the plugin's own bug",
    "test-exit": "sys.exit(3)",
    "test-hang": "time limit of 3 s",
    "test-die": "worker process running this cell died",
}
BAD_REGISTER = """
from ibbench.api import hookimpl

@hookimpl
def ibbench_register_estimators(register):
    register("not-a-class", lambda: 42)
"""


class Trials:
    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.expected = self.stored = self.lost = self.duplicated = 0

    def add(self, group: str, trial: str, faults: int, ok: bool, outcome: str) -> None:
        self.rows.append({"group": group, "trial": trial, "faults": faults, "passed": ok, "outcome": outcome})
        print(f"{'pass' if ok else 'FAIL'}  {group}: {trial}: {outcome}", file=sys.stderr)

    def count(self, expected_keys: set[str], records: list[RunRecord], key=lambda r: r.id) -> tuple[int, int]:
        keys = [key(r) for r in records]
        lost, duplicated = len(expected_keys - set(keys)), len(keys) - len(set(keys))
        self.expected += len(expected_keys)
        self.stored += len(keys)
        self.lost += lost
        self.duplicated += duplicated
        return lost, duplicated


def _append_many(path: str, writer: int, count: int, pad: int) -> None:
    store = ResultStore(path)
    for i in range(count):
        record = make_record("t", "a", i, 1.0, 1.0)
        store.append(record.model_copy(update={"id": f"w{writer}-{i}", "extras": {"pad": "x" * pad}}))


def concurrent_writers(trials: Trials, tmp: Path) -> None:
    for writers, count, pad in ((4, 500, 0), (4, 150, 20_000)):
        path = tmp / f"writers-{pad}.jsonl"
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_append_many, args=(str(path), w, count, pad)) for w in range(writers)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        records = _read(path)
        expected = {f"w{w}-{i}" for w in range(writers) for i in range(count)}
        lost, dup = trials.count(expected, records)
        trials.add(
            "store",
            f"{writers} processes x {count} records of {pad or 'no'} padding bytes, appending at once",
            writers,
            lost == 0 and dup == 0,
            f"{len(records)} stored, {lost} lost, {dup} duplicated",
        )


def _read(path: Path) -> list[RunRecord]:
    """Every line as a record, duplicates included (the store itself counts a repeated id once)."""
    return [
        RunRecord.model_validate(json.loads(line)) for line in path.read_text().splitlines() if line.strip()
    ]


def _cli(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ibbench.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
        timeout=900,
        **kw,
    )


def _suite(tmp: Path, name: str, body: str) -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(f'name = "{name}"\nbudget = "smoke"\n{body}')
    return path


def _expected_cells(suite: Path) -> set[CellKey]:
    from ibbench.running.plugins import load_registry
    from ibbench.running.runner import cell_of, resolve
    from ibbench.running.specs import load_suite

    registry = load_registry()
    return {cell_of(resolve(c, registry)) for c in load_suite(suite).cells()}


def same_suite_twice(trials: Trials, tmp: Path) -> None:
    suite = _suite(
        tmp,
        "twice",
        'seeds = [0, 1, 2, 3]\ntasks = [{ name = "gaussian" }, { name = "student-t" }]\n'
        'estimators = [{ name = "binning" }]\n',
    )
    out = tmp / "twice.jsonl"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ibbench.cli", "suite", "run", str(suite), "--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        for _ in range(2)
    ]
    for p in procs:
        p.wait()
    records = _read(out)
    lost, dup = trials.count(_expected_cells(suite), records, key=CellKey.of_record)
    trials.add(
        "store",
        "the same 8-cell suite started twice at once on one store",
        2,
        lost == 0 and dup == 0,
        f"{len(records)} records for 8 cells, {lost} lost, {dup} duplicated",
    )


def kill_and_resume(trials: Trials, tmp: Path) -> None:
    suite = _suite(
        tmp,
        "killed",
        'seeds = [0, 1, 2, 3, 4, 5]\ntasks = [{ name = "gaussian" }]\nestimators = [{ name = "mine" }]\n',
    )
    out = tmp / "killed.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ibbench.cli", "suite", "run", str(suite), "--out", str(out), "--jobs", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    while not out.exists() or len(out.read_text().splitlines()) < 2:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = len(out.read_text().splitlines())
    _cli("suite", "run", str(suite), "--out", str(out))
    records = _read(out)
    lost, dup = trials.count(_expected_cells(suite), records, key=CellKey.of_record)
    trials.add(
        "runner",
        f"a 6-cell suite (--jobs 2) killed with SIGKILL after {before} records, then run again",
        1,
        lost == 0 and dup == 0,
        f"{len(records)} records for 6 cells, {lost} lost, {dup} duplicated",
    )


def fault_suite(trials: Trials, tmp: Path) -> None:
    site = tmp / "site"
    site.mkdir()
    make_distribution(
        site, "ibbench-nan", "ibbench_nan_test", "from tests.plugin_fixtures.nan_plugin import *\n"
    )
    make_distribution(site, "ibbench-badreg", "ibbench_badreg_test", BAD_REGISTER)
    names = [*FAULT_ESTIMATORS, "test-numpy-extras", "binning"]
    suite = _suite(
        tmp,
        "faults",
        'seeds = [0, 1]\ntasks = [{ name = "test-plain" }]\nestimators = ['
        + ", ".join(f'{{ name = "{n}" }}' for n in names)
        + "]\n",
    )
    out = tmp / "faults.jsonl"
    env = {"PYTHONPATH": f"{site}:{ROOT}"}
    proc = _cli("suite", "run", str(suite), "--out", str(out), "--jobs", "2", "--cell-timeout", "3", env=env)
    records = _read(out)
    by_name: dict[str, list[RunRecord]] = {}
    for r in records:
        by_name.setdefault(r.spec.estimator.name, []).append(r)
    expected = {(n, s) for n in names for s in (0, 1)}
    lost, dup = trials.count(
        {f"{n}/{s}" for n, s in expected}, records, key=lambda r: f"{r.spec.estimator.name}/{r.spec.seed}"
    )
    completed = proc.returncode == 1 and "Traceback" not in proc.stderr
    trials.add(
        "runner",
        "a suite of 16 cells, 14 of them faulty (--jobs 2, --cell-timeout 3)",
        14,
        completed and lost == 0 and dup == 0,
        f"exit {proc.returncode}, {len(records)} records, {lost} lost, {dup} duplicated",
    )
    for name, reason in FAULT_ESTIMATORS.items():
        runs = by_name.get(name, [])
        ok = len(runs) == 2 and all(r.status == "failed" and reason in (r.error or "") for r in runs)
        trials.add(
            "plugin",
            f"estimator {name} (2 of the suite's cells)",
            0,
            ok,
            "; ".join(sorted({(r.error or r.status)[:90] for r in runs})) or "no record",
        )
    numpy_ok = [r.status for r in by_name.get("test-numpy-extras", [])] == ["ok", "ok"]
    trials.add(
        "plugin",
        "estimator returning numpy and torch values (2 of the suite's cells)",
        0,
        numpy_ok,
        "stored as JSON" if numpy_ok else "not stored",
    )
    warned = "ibbench-badreg" in proc.stderr and "not a subclass of ibbench.api.Estimator" in proc.stderr
    trials.add(
        "plugin",
        "a plugin registering a function as its estimator",
        1,
        warned,
        "skipped with a message naming ibbench-badreg" if warned else "no message",
    )


def diverged_training(trials: Trials, tmp: Path) -> None:
    out = tmp / "diverged.jsonl"
    run = _cli(
        "run",
        "--task",
        "digits-mlp",
        "--trainer",
        "ce",
        "--budget",
        "smoke",
        "--set",
        "trainer.lr=1e9",
        "--out",
        str(out),
    )
    shown = [_cli("table", kind, "--store", str(out)) for kind in ("failures", "accuracy", "separation")]
    ok = (
        run.returncode == 1 and all(p.returncode == 0 for p in shown) and "ended at chance" in shown[0].stdout
    )
    trials.add(
        "runner",
        "training diverged by lr = 1e9 (NaN in its numbers), then every table of its store",
        1,
        ok,
        f"run exit {run.returncode}; tables exit {[p.returncode for p in shown]}",
    )


def bad_inputs(trials: Trials, tmp: Path) -> None:
    (tmp / "text.npy").write_text("not numpy\n")
    np.save(tmp / "zero.npy", np.float64(1.0))
    np.save(tmp / "complex.npy", np.ones((10, 2), dtype=complex))
    np.save(tmp / "x.npy", np.random.default_rng(0).normal(size=(100, 2)))
    np.save(tmp / "empty.npy", np.zeros((0, 2)))
    np.save(tmp / "three.npy", np.arange(6.0).reshape(3, 2))
    (tmp / "schema3.jsonl").write_text(json.dumps({"schema_version": 3, "id": "x"}) + "\n")
    typo = _suite(
        tmp,
        "typo",
        'tasks = [{ name = "gaussian" }]\nestimators = [{ name = "mine", params = { stepz = 1 } }]\n',
    )
    est = ["estimate", "--x", str(tmp / "x.npy"), "--y", str(tmp / "x.npy")]
    cases = {
        "a negative seed": ["run", "--task", "gaussian", "--estimator", "ksg", "--seed", "-1"],
        "an unreachable MI (task.mi=1e6)": [
            "run",
            "--task",
            "gaussian",
            "--estimator",
            "ksg",
            "--set",
            "task.mi=1e6",
        ],
        "an unknown estimator": ["run", "--task", "gaussian", "--estimator", "nope"],
        "an unknown task": ["run", "--task", "nope", "--estimator", "ksg"],
        "a bad --set value": [
            "run",
            "--task",
            "gaussian",
            "--estimator",
            "mine",
            "--set",
            "estimator.lr=abc",
        ],
        "a text file named .npy": [
            "estimate",
            "--x",
            str(tmp / "text.npy"),
            "--y",
            str(tmp / "x.npy"),
            "--estimator",
            "ksg",
        ],
        "a 0-d array": [
            "estimate",
            "--x",
            str(tmp / "zero.npy"),
            "--y",
            str(tmp / "x.npy"),
            "--estimator",
            "ksg",
        ],
        "a complex array": [
            "estimate",
            "--x",
            str(tmp / "complex.npy"),
            "--y",
            str(tmp / "x.npy"),
            "--estimator",
            "ksg",
        ],
        "an array with no rows": [
            "estimate",
            "--x",
            str(tmp / "empty.npy"),
            "--y",
            str(tmp / "empty.npy"),
            "--estimator",
            "ksg",
        ],
        "KSG on 3 pairs": [
            "estimate",
            "--x",
            str(tmp / "three.npy"),
            "--y",
            str(tmp / "three.npy"),
            "--estimator",
            "ksg",
        ],
        "a seed beyond 2**32 - 1": ["run", "--task", "gaussian", "--estimator", "ksg", "--seed", str(2**32)],
        "aa-mine on arrays": [*est, "--estimator", "aa-mine"],
        "mixture on arrays": [*est, "--estimator", "mixture"],
        "a device as the store (/dev/full)": [
            "run",
            "--task",
            "gaussian",
            "--estimator",
            "ksg",
            "--out",
            "/dev/full",
        ],
        "a store in sysfs (unwritable even for root)": [
            "run",
            "--task",
            "gaussian",
            "--estimator",
            "ksg",
            "--out",
            "/sys/kernel/ibbench.jsonl",
        ],
        "a store of a newer schema": ["table", "bias", "--store", str(tmp / "schema3.jsonl")],
        "a suite with a misspelled parameter": ["suite", "run", str(typo), "--out", str(tmp / "typo.jsonl")],
        "the paper budget on the CPU without --yes": [
            "run",
            "--task",
            "gaussian",
            "--estimator",
            "mine",
            "--budget",
            "paper",
            "--device",
            "cpu",
        ],
    }
    for what, args in cases.items():
        out = tmp / "bad.jsonl"
        out.unlink(missing_ok=True)
        if "--out" not in args and args[0] in ("run", "estimate"):
            args = (
                [*args, "--out", str(out), "--budget", "smoke"]
                if "--budget" not in args
                else [*args, "--out", str(out)]
            )
        proc = _cli(*args)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        ok = (
            proc.returncode == 2
            and len(lines) == 1
            and "Traceback" not in proc.stderr
            and not (out.exists() and out.read_text())
        )
        trials.add("input", what, 1, ok, lines[0][:110] if lines else f"exit {proc.returncode}, no message")


def write(trials: Trials) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    passed = sum(r["passed"] for r in trials.rows)
    faults = sum(r["faults"] for r in trials.rows)
    summary = {
        "trials": len(trials.rows),
        "passed": passed,
        "faults_injected": faults,
        "records_expected": trials.expected,
        "records_stored": trials.stored,
        "records_lost": trials.lost,
        "records_duplicated": trials.duplicated,
    }
    (OUT / "trials.json").write_text(json.dumps({"summary": summary, "trials": trials.rows}, indent=1) + "\n")
    lines = [
        "# Reliability trials",
        "",
        "Made by `python scripts/reliability_trials.py` (fault injection; the test "
        "plugins are `tests/plugin_fixtures/nan_plugin.py`).",
        "",
        f"**{passed} of {len(trials.rows)} trials passed; {faults} faults injected; of "
        f"{trials.expected} records expected, {trials.lost} lost and {trials.duplicated} duplicated.**",
        "",
        "A fault is one adversity: a concurrent writer or suite run, a SIGKILL, a faulty cell, a broken "
        "plugin, a bad input.  The per-estimator rows check the records of the fault suite's cells.",
        "",
        "| group | trial | faults | passed | outcome |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['group']} | {r['trial']} | {r['faults']} | {'yes' if r['passed'] else 'NO'} | "
        f"{r['outcome'].replace('|', '/')} |"
        for r in trials.rows
    ]
    (OUT / "trials.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(summary), file=sys.stderr)


def main() -> int:
    trials = Trials()
    with tempfile.TemporaryDirectory(prefix="ibbench-reliability-") as tmp:
        for step in (
            concurrent_writers,
            same_suite_twice,
            kill_and_resume,
            fault_suite,
            diverged_training,
            bad_inputs,
        ):
            step(trials, Path(tmp))
    write(trials)
    return 0 if all(r["passed"] for r in trials.rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""The bmi half of the peer benchmark; runs under an interpreter that has bmi (benchmark-mi 0.1.3, which
needs pydantic 1 and jax 0.4.25 / numpy 1: it cannot share an environment with ibbench).

    BMI_PYTHON scripts/peers/bmi_side.py sample OUT_DIR N SEEDS TASK_ID [TASK_ID ...]
    BMI_PYTHON scripts/peers/bmi_side.py estimate OUT_DIR SEEDS ESTIMATORS TASK_ID [TASK_ID ...]

``sample`` draws each task with bmi's own sampler and saves the arrays as OUT_DIR/<task>-<seed>-{x,y}.npy;
``estimate`` runs bmi's estimators with their defaults on those files (timed, one at a time) and writes
OUT_DIR/bmi.json.  Between the two the caller may map the files (the same preprocessing for both sides).
"""

import json
import sys
import time
from pathlib import Path

import bmi
import numpy as np

ESTIMATORS = {  # bmi's defaults, as its benchmark runs them
    "ksg": lambda: bmi.estimators.KSGEnsembleFirstEstimator(neighborhoods=(10,)),
    "mine": lambda: bmi.estimators.MINEEstimator(verbose=False),
    "infonce": lambda: bmi.estimators.InfoNCEEstimator(verbose=False),
    "nwj": lambda: bmi.estimators.NWJEstimator(verbose=False),
}


def sample(out: Path, n: int, seeds: list[int], task_ids: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for task_id in task_ids:
        for seed in seeds:
            x, y = bmi.BENCHMARK_TASKS[task_id].sample(n, seed=seed)
            np.save(out / f"{task_id}-{seed}-x.npy", np.asarray(x, dtype=np.float64))
            np.save(out / f"{task_id}-{seed}-y.npy", np.asarray(y, dtype=np.float64))


def estimate(out: Path, seeds: list[int], names: list[str], task_ids: list[str]) -> None:
    rows = []
    for task_id in task_ids:
        task = bmi.BENCHMARK_TASKS[task_id]
        for seed in seeds:
            x, y = np.load(out / f"{task_id}-{seed}-x.npy"), np.load(out / f"{task_id}-{seed}-y.npy")
            for name in names:
                start = time.perf_counter()
                value = float(ESTIMATORS[name]().estimate(x, y))
                value = value if np.isfinite(value) else None  # bmi's neural estimators return NaN on failure
                rows.append(
                    {
                        "task": task_id,
                        "seed": seed,
                        "estimator": name,
                        "estimate": value,
                        "truth": float(task.mutual_information),
                        "seconds": time.perf_counter() - start,
                    }
                )
                print(
                    f"bmi {task_id} seed {seed} {name}: {value} in {rows[-1]['seconds']:.1f} s",
                    file=sys.stderr,
                )
    (out / "bmi.json").write_text(json.dumps({"bmi": bmi.__name__, "rows": rows}, indent=1) + "\n")


def main() -> None:
    phase, out = sys.argv[1], Path(sys.argv[2])
    if phase == "sample":
        sample(out, int(sys.argv[3]), [int(s) for s in sys.argv[4].split(",")], sys.argv[5:])
    else:
        estimate(out, [int(s) for s in sys.argv[3].split(",")], sys.argv[4].split(","), sys.argv[5:])


if __name__ == "__main__":
    main()

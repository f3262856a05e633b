"""The bmi half of the peer benchmark; runs under an interpreter that has bmi (benchmark-mi 0.1.3, which
needs pydantic 1 and jax 0.4.25 / numpy 1: it cannot share an environment with ibbench).

    BMI_PYTHON scripts/peers/bmi_side.py OUT_DIR N SEEDS ESTIMATORS TASK_ID [TASK_ID ...]

Samples each task with bmi's own sampler, saves the arrays as OUT_DIR/<task>-<seed>-{x,y}.npy, runs
bmi's estimators on them with their defaults (timed, one at a time) and writes OUT_DIR/bmi.json.
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


def main() -> None:
    out, n, seeds = Path(sys.argv[1]), int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")]
    names, task_ids = sys.argv[4].split(","), sys.argv[5:]
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for task_id in task_ids:
        task = bmi.BENCHMARK_TASKS[task_id]
        for seed in seeds:
            x, y = task.sample(n, seed=seed)
            x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
            np.save(out / f"{task_id}-{seed}-x.npy", x)
            np.save(out / f"{task_id}-{seed}-y.npy", y)
            for name in names:
                make = ESTIMATORS[name]
                start = time.perf_counter()
                value = float(make().estimate(x, y))
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


if __name__ == "__main__":
    main()

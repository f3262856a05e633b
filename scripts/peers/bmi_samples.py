"""bmi's side of the Beyond Normal cross-check; runs under an interpreter that has bmi (benchmark-mi 0.1.3).

    BMI_PYTHON scripts/peers/bmi_samples.py OUT_DIR N SEEDS [TASK_ID ...]

For every task of bmi's benchmark list (or the TASK_IDs given): its truth (``task.mutual_information``) into OUT_DIR/truths.json,
and N pairs per seed from bmi's own sampler as OUT_DIR/<task>-<seed>-{x,y}.npy (float64).
"""

import json
import sys
from pathlib import Path

import bmi
import numpy as np


def main() -> None:
    out, n, seeds = Path(sys.argv[1]), int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")]
    only = set(sys.argv[4:])
    out.mkdir(parents=True, exist_ok=True)
    truths = {}
    for task in bmi.BENCHMARK_TASKS.values():  # bmi's benchmark list, in its order
        if only and task.id not in only:
            continue
        truths[task.id] = float(task.mutual_information)
        for seed in seeds:
            x, y = task.sample(n, seed=seed)
            np.save(out / f"{task.id}-{seed}-x.npy", np.asarray(x, dtype=np.float64))
            np.save(out / f"{task.id}-{seed}-y.npy", np.asarray(y, dtype=np.float64))
        print(f"bmi {task.id}: truth {truths[task.id]:.6f}, {len(seeds)} samples of {n}", file=sys.stderr)
    (out / "truths.json").write_text(json.dumps(truths, indent=1) + "\n")


if __name__ == "__main__":
    main()

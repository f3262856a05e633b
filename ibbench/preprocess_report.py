"""``ibbench table preprocess``: which preprocessing serves each estimator best, from a store that ran
the same cells through several maps (``suites/preprocess-choice.toml``).

Per estimator and map: the mean absolute bias over tasks, |mean estimate over seeds - truth| in nats,
on bmi's tasks (``extras.task.bmi_task_id``) and on the rest (the 20-d staircase), the same for the
Student-t tasks alone (the heavy tails where the maps differ most), and on how many tasks each map is
the closer one.  Only cells that every map finished enter, so a partial store compares like with like.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import mean

from tabulate import tabulate


def preprocess_table(records, fmt: str = "github") -> str:
    ok = [r for r in records if r.status == "ok" and r.truth is not None and r.spec.preprocess]
    # (estimator, task, seed) -> map -> estimate
    cells: dict[tuple, dict[str, float]] = defaultdict(dict)
    truth: dict[str, float] = {}
    bmi: dict[str, bool] = {}
    for r in ok:
        cells[(r.spec.estimator.name, r.task_label, r.spec.seed)][r.spec.preprocess] = r.estimate
        truth[r.task_label] = r.truth
        bmi[r.task_label] = bool((r.extras.get("task") or {}).get("bmi_task_id"))
    maps = sorted({p for arms in cells.values() for p in arms})
    paired = {k: v for k, v in cells.items() if set(v) == set(maps)}
    # (estimator, task) -> map -> mean estimate over the seeds every map finished
    per_task: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (est, task, _), arms in paired.items():
        for p, value in arms.items():
            per_task[(est, task)][p].append(value)
    rows = []
    for est in sorted({e for e, _ in per_task}):
        tasks = sorted(t for e, t in per_task if e == est)
        row = [est]
        for keep in (lambda t: bmi[t], lambda t: bmi[t] and "student" in t, lambda t: not bmi[t]):
            chosen = [t for t in tasks if keep(t)]
            for p in maps:
                biases = [abs(mean(per_task[(est, t)][p]) - truth[t]) for t in chosen]
                row.append(f"{mean(biases):.3f} ({len(chosen)})" if biases else "-")
        closest = defaultdict(int)
        for t in tasks:
            err = {p: abs(mean(per_task[(est, t)][p]) - truth[t]) for p in maps}
            closest[min(err, key=err.get)] += 1
        row.append(", ".join(f"{p} {closest[p]}" for p in maps))
        rows.append(row)
    headers = ["estimator"]
    for group in ("bmi", "bmi Student-t", "staircase / other"):
        headers += [f"{group}: {p}" for p in maps]
    headers.append("closer on (tasks)")
    note = (
        f"Mean |mean estimate over seeds - truth| in nats over tasks (count); {len(paired)} cells that every "
        f"map ({', '.join(maps)}) finished, seeds {sorted({s for _, _, s in paired})}."
    )
    return tabulate(rows, headers=headers, tablefmt=fmt) + "\n\n" + note

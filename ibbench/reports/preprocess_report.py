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


def preprocess_table(records, fmt: str = "github", pooled: tuple[str, ...] = ()) -> str:
    """Mean |estimate - truth| per estimator and map over task groups; with ``pooled`` (estimator names:
    those whose pooled bias chose the default map, results/README "One route for the data") a last row
    pooling them."""
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
    groups = (
        ("bmi, all", lambda t: bmi[t]),
        ("bmi Student-t", lambda t: bmi[t] and "student" in t),
        ("bmi, rest", lambda t: bmi[t] and "student" not in t),
        ("staircase / other", lambda t: not bmi[t]),
        ("all tasks", lambda t: True),
    )

    def row(label: str, keys: list[tuple[str, str]]) -> list[str]:
        out = [label]
        for _, keep in groups:
            chosen = [k for k in keys if keep(k[1])]
            for p in maps:
                biases = [abs(mean(per_task[k][p]) - truth[k[1]]) for k in chosen]
                out.append(f"{mean(biases):.3f} ({len(chosen)})" if biases else "-")
        closest = defaultdict(int)
        for k in keys:
            err = {p: abs(mean(per_task[k][p]) - truth[k[1]]) for p in maps}
            closest[min(err, key=err.get)] += 1
        return [*out, ", ".join(f"{p} {closest[p]}" for p in maps)]

    estimators = sorted({e for e, _ in per_task})
    rows = [row(est, sorted(k for k in per_task if k[0] == est)) for est in estimators]
    pooled = [e for e in pooled if e in estimators]
    if pooled:  # what the default is chosen on: binning saturates at log n from 5 dimensions on either map
        rows.append(row(" + ".join(pooled), sorted(k for k in per_task if k[0] in pooled)))
    headers = (
        ["estimator"] + [f"{g}: {p}" for g, _ in groups for p in maps] + ["closer on (task x estimator)"]
    )
    note = (
        f"Mean |mean estimate over seeds - truth| in nats over tasks (count); {len(paired)} cells that every "
        f"map ({', '.join(maps)}) finished, seeds {sorted({s for _, _, s in paired})}."
    )
    return tabulate(rows, headers=headers, tablefmt=fmt) + "\n\n" + note

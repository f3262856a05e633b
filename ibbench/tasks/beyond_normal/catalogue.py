"""bmi's task ids, parsed into ``beyond-normal`` parameters and written back, and its 40 benchmark tasks.

An id is transforms (outermost first) before a base, joined by "-" (bmi's ``task_list.py``):

    spiral-normal_cdf-multinormal-sparse-5-5-2-2.0  =  spiral(normal_cdf(multinormal-sparse 5 x 5,
                                                        2 interacting pairs, strength 2.0))

Bases: ``1v1-normal-RHO``, ``1v1-bimodal-RHO``, ``1v1-additive-EPS``, ``multinormal-dense-DX-DY-OFFDIAG``,
``multinormal-sparse-DX-DY-K-STRENGTH``, ``student-identity-DX-DY-DOF``.
"""

from __future__ import annotations

from typing import Any

# no torch here: ``ibbench list`` reads these names without importing it
TRANSFORM_NAMES = ("normal_cdf", "half_cube", "asinh", "wiggly", "spiral", "swissroll_x")

#: bmi 0.1.3's ``BENCHMARK_TASKS_LIST``, in its order
BENCHMARK_IDS: tuple[str, ...] = (
    "1v1-normal-0.75",
    "normal_cdf-1v1-normal-0.75",
    "1v1-additive-0.1",
    "1v1-additive-0.75",
    "1v1-bimodal-0.75",
    "wiggly-1v1-normal-0.75",
    "half_cube-1v1-normal-0.75",
    "student-identity-1-1-1",
    "asinh-student-identity-1-1-1",
    "swissroll_x-normal_cdf-1v1-normal-0.75",
    "multinormal-dense-2-2-0.5",
    "multinormal-dense-3-3-0.5",
    "multinormal-dense-5-5-0.5",
    "multinormal-dense-25-25-0.5",
    "multinormal-dense-50-50-0.5",
    "multinormal-sparse-2-2-2-2.0",
    "multinormal-sparse-3-3-2-2.0",
    "multinormal-sparse-5-5-2-2.0",
    "multinormal-sparse-25-25-2-2.0",
    "student-identity-2-2-1",
    "student-identity-2-2-2",
    "student-identity-3-3-2",
    "student-identity-3-3-3",
    "student-identity-5-5-2",
    "student-identity-5-5-3",
    *(
        f"{t}-multinormal-sparse-{d}-{d}-2-2.0"
        for t in ("normal_cdf", "half_cube", "spiral", "spiral-normal_cdf")
        for d in (3, 5, 25)
    ),
    "asinh-student-identity-2-2-1",
    "asinh-student-identity-3-3-2",
    "asinh-student-identity-5-5-2",
)

#: each benchmark id's closed-form MI in nats (its base's: the transforms leave MI unchanged), so
#: ``ibbench list`` shows it without importing torch; tests/test_beyond_normal.py pins it to the closed form
BENCHMARK_TRUTHS: dict[str, float] = {
    "1v1-normal-0.75": 0.41333928659223396,
    "normal_cdf-1v1-normal-0.75": 0.41333928659223396,
    "1v1-additive-0.1": 1.7094379124341004,
    "1v1-additive-0.75": 0.3333333333333333,
    "1v1-bimodal-0.75": 0.41333928659223396,
    "wiggly-1v1-normal-0.75": 0.41333928659223396,
    "half_cube-1v1-normal-0.75": 0.41333928659223396,
    "student-identity-1-1-1": 0.22417142752923658,
    "asinh-student-identity-1-1-1": 0.22417142752923658,
    "swissroll_x-normal_cdf-1v1-normal-0.75": 0.41333928659223396,
    "multinormal-dense-2-2-0.5": 0.29389333245105964,
    "multinormal-dense-3-3-0.5": 0.41333928659223385,
    "multinormal-dense-5-5-0.5": 0.5928118328288696,
    "multinormal-dense-25-25-0.5": 1.292183721659315,
    "multinormal-dense-50-50-0.5": 1.6242653743036897,
    "multinormal-sparse-2-2-2-2.0": 1.0216512475319817,
    "multinormal-sparse-3-3-2-2.0": 1.0216512475319817,
    "multinormal-sparse-5-5-2-2.0": 1.0216512475319817,
    "multinormal-sparse-25-25-2-2.0": 1.0216512475319817,
    "student-identity-2-2-1": 0.43194562200144315,
    "student-identity-2-2-2": 0.19314718055994495,
    "student-identity-3-3-2": 0.29092192268276307,
    "student-identity-3-3-3": 0.17871185309236592,
    "student-identity-5-5-2": 0.4481506769153327,
    "student-identity-5-5-3": 0.29854362265275647,
    "normal_cdf-multinormal-sparse-3-3-2-2.0": 1.0216512475319817,
    "normal_cdf-multinormal-sparse-5-5-2-2.0": 1.0216512475319817,
    "normal_cdf-multinormal-sparse-25-25-2-2.0": 1.0216512475319817,
    "half_cube-multinormal-sparse-3-3-2-2.0": 1.0216512475319817,
    "half_cube-multinormal-sparse-5-5-2-2.0": 1.0216512475319817,
    "half_cube-multinormal-sparse-25-25-2-2.0": 1.0216512475319817,
    "spiral-multinormal-sparse-3-3-2-2.0": 1.0216512475319817,
    "spiral-multinormal-sparse-5-5-2-2.0": 1.0216512475319817,
    "spiral-multinormal-sparse-25-25-2-2.0": 1.0216512475319817,
    "spiral-normal_cdf-multinormal-sparse-3-3-2-2.0": 1.0216512475319817,
    "spiral-normal_cdf-multinormal-sparse-5-5-2-2.0": 1.0216512475319817,
    "spiral-normal_cdf-multinormal-sparse-25-25-2-2.0": 1.0216512475319817,
    "asinh-student-identity-2-2-1": 0.43194562200144315,
    "asinh-student-identity-3-3-2": 0.29092192268276307,
    "asinh-student-identity-5-5-2": 0.4481506769153327,
}

#: the bmi protocol's sample size, each benchmark id's default ``n_pairs``
BENCHMARK_PAIRS = 5000

BASES = {  # base -> its numeric fields in id order
    "1v1-normal": ("correlation",),
    "1v1-bimodal": ("correlation",),
    "1v1-additive": ("epsilon",),
    "multinormal-dense": ("dim_x", "dim_y", "correlation"),
    "multinormal-sparse": ("dim_x", "dim_y", "n_interacting", "strength"),
    "student-identity": ("dim_x", "dim_y", "dof"),
}
_INTS = {"dim_x", "dim_y", "n_interacting"}


def params_from_id(task_id: str) -> dict[str, Any]:
    """The ``beyond-normal`` parameters of a bmi id; ValueError naming the part it cannot read."""
    rest, transforms = task_id, []
    while True:
        name = next((t for t in TRANSFORM_NAMES if rest.startswith(t + "-")), None)
        if name is None:
            break
        transforms.append(name)
        rest = rest[len(name) + 1 :]
    base = next((b for b in BASES if rest.startswith(b + "-")), None)
    if base is None:
        raise ValueError(f"{task_id!r}: no bmi base in {rest!r}; bases are {', '.join(BASES)}")
    values = rest[len(base) + 1 :].split("-")
    fields = BASES[base]
    if len(values) != len(fields):
        raise ValueError(
            f"{task_id!r}: base {base} takes {len(fields)} numbers ({', '.join(fields)}), got {values}"
        )
    params: dict[str, Any] = {"base": base, "transforms": transforms[::-1]}  # innermost first
    try:
        for field, text in zip(fields, values, strict=True):
            params[field] = int(text) if field in _INTS else float(text)
    except ValueError:
        raise ValueError(
            f"{task_id!r}: {'-'.join(values)!r} are not the numbers {', '.join(fields)}"
        ) from None
    return params


def task_id(p) -> str:
    """The bmi-style id of ``beyond-normal`` parameters (bmi's own id for its benchmark tasks).  Numbers
    are spelt as bmi's f-strings spell them: floats as Python's str (0.75, 2.0), an integral dof as an int."""
    numbers = []
    for field in BASES[p.base]:
        value = getattr(p, field)
        if field == "dof" and float(value).is_integer():
            value = int(value)
        numbers.append(str(value))
    return "-".join([*reversed(p.transforms), p.base, *numbers])


def description(task_id_: str) -> str:
    """One line for ``ibbench list``: what the id is, in words."""
    p = params_from_id(task_id_)
    base = {
        "1v1-normal": "bivariate normal",
        "1v1-bimodal": "bimodal margins of a bivariate normal",
        "1v1-additive": "uniform X, Y = X + uniform noise",
        "multinormal-dense": "dense multinormal",
        "multinormal-sparse": "sparse multinormal (2 pairs)",
        "student-identity": "Student-t, identity dispersion",
    }
    dims = f"{2 if 'swissroll_x' in p['transforms'] else p.get('dim_x', 1)} x {p.get('dim_y', 1)}"
    chain = " of ".join(reversed(p["transforms"]))
    return f"bmi benchmark: {(chain + ' of ') if chain else ''}{base[p['base']]}, {dims}; {BENCHMARK_PAIRS} pairs"

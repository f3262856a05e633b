"""``ibbench bench``: the throughput table (critic steps/s, samples/s, FLOP utilisation, peak memory).

Every row runs in a fresh interpreter (``timing.measure_in_subprocess``) so its
peak memory is its own.  FLOP utilisation is the row's matmul FLOP/s over the
best square-matmul FLOP/s this device reached in the same session
(``timing.matmul_peak``).  The targets section compares rows with each other:
AA-MINE against MINE with the same critic, K ensemble members against K
single critics, bf16 and torch.compile against fp32 eager.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tabulate import tabulate

from ..store.provenance import provenance
from .timing import matmul_peak, measure_in_subprocess
from .workloads import resolve

Row = tuple[str, dict[str, Any]]


def critic(estimator: str, hidden: int, batch: int, **extra: Any) -> Row:
    return "critic-step", {"estimator": estimator, "hidden": hidden, "batch": batch, **extra}


def grid(device: torch.device, quick: bool = False) -> list[Row]:
    """The rows of the table.  ``quick``: a handful, for a smoke test of the command."""
    dev = str(device)
    if quick:
        return [
            critic("mine", 64, 256, device=dev),
            critic("aa-mine", 64, 256, device=dev),
            ("mixture-truth", {"n": 2000, "dim": 10, "samples": 256, "device": dev}),
        ]
    rows: list[Row] = []
    batches = (256, 512, 1024) if device.type == "cpu" else (256, 1024, 4096)
    for est in ("mine", "aa-mine"):
        rows += [critic(est, 1500, b, device=dev) for b in batches]
        rows += [critic(est, 256, 256, device=dev), critic(est, 64, 256, device=dev)]
    for hidden in (64, 256, 1500):
        rows.append(critic("aa-mine", hidden, 256, ensemble=8, device=dev))
    precisions = ("bf16",) if device.type == "cpu" else ("tf32", "bf16")
    rows += [critic("aa-mine", 1500, b, precision=p, device=dev) for p in precisions for b in batches[:2]]
    rows += [critic("aa-mine", h, 256, compile=True, device=dev) for h in (64, 256)]
    rows += [("estimate", {"estimator": e, "budget": "quick", "device": dev}) for e in ("binning", "ksg")]
    rows += [("mixture-truth", {"n": 60000, "dim": d, "samples": 4096, "device": dev}) for d in (10, 512)]
    rows += [
        ("trainer-step", {"trainer": t, "budget": "quick", "device": dev})
        for t in ("ce", "ce-wd", "ib-layerwise", "ib-e2e")
    ]
    ib = {"budget": "quick", "device": dev}
    rows += [("trainer-step", {"trainer": "ib-layerwise", "layer": i, **ib}) for i in (2, 3)]
    rows += [
        ("trainer-step", {"trainer": t, "critic_precision": "fp32", **ib}) for t in ("ib-layerwise", "ib-e2e")
    ]
    rows.append(("trainer-step", {"trainer": "ib-layerwise", "budget": "paper", "device": dev}))
    # the paper's CIFAR-10 nets (issue 28): Table 2's conv net layer by layer (its conv layers train D_y
    # alone at beta_conv = 0; layer 4 is the first FC layer, with both critics) and Table 3's conv6
    rows += [("trainer-step", {"trainer": "ce", "network": n, **ib}) for n in ("cifar-conv", "cifar-conv6")]
    rows += [
        ("trainer-step", {"trainer": "ib-layerwise", "layer": i, "network": "cifar-conv", **ib})
        for i in (1, 4)
    ]
    rows.append(("trainer-step", {"trainer": "ib-e2e", "network": "cifar-conv6", **ib}))
    return rows


def setting(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items() if k != "device")


def derive(m: dict[str, Any], peak_gflops: float | dict[str, float]) -> dict[str, Any]:
    """calls/s, samples/s, GFLOP/s and utilisation from a measurement.

    ``peak_gflops`` may map a precision ("fp32", "bf16") to its peak: a bf16 row is then measured
    against the bf16 matmul peak, not the fp32 one.
    """
    if "error" in m:
        return m
    if isinstance(peak_gflops, dict):
        precision = m["params"].get("precision") or m.get("extras", {}).get("precision", "fp32")
        peak_gflops = peak_gflops.get(precision, peak_gflops["fp32"])
    t = m["median_s"]
    out = {**m, "calls_per_s": 1.0 / t}
    if m.get("samples"):
        out["samples_per_s"] = m["samples"] / t
    if m.get("flops"):
        out["gflops"] = m["flops"] / t / 1e9
        # a trainer step with bf16 critics beside an fp32 network has no single peak to be measured
        # against (against the fp32 one it read 105 % on an AMX Xeon): its share is left blank
        if m.get("extras", {}).get("critic_precision") != "bf16":
            out["utilisation"] = out["gflops"] / peak_gflops
    return out


def _find(rows: list[dict[str, Any]], name: str, **params: Any) -> dict[str, Any] | None:
    for r in rows:
        if (
            r["workload"] == name
            and "error" not in r
            and all(r["params"].get(k) == v for k, v in params.items())
        ):
            defaults = {"ensemble": 1, "precision": "fp32", "compile": False}
            if all(r["params"].get(k, v) == params.get(k, v) for k, v in defaults.items()):
                return r
    return None


def targets(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """The issue's speed targets, each as [target, setting, measured, met] (met: None where informative)."""
    return _utilisation_targets(rows) + _aa_mine_targets(rows) + _mixture_targets(rows)


def _plain(p: dict[str, Any]) -> bool:
    """One fp32 eager critic: the setting the other variants are measured against."""
    return p.get("ensemble", 1) == 1 and p.get("precision", "fp32") == "fp32" and not p.get("compile")


def _utilisation_targets(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """The paper-width (2x1500) critic step at >= 90 % of the fp32 matmul peak, from batch 256 on."""
    out = []
    for r in rows:
        p = r.get("params", {})
        if r["workload"] == "critic-step" and "error" not in r and p["hidden"] == 1500 and p["batch"] >= 256:
            if _plain(p):
                target = "critic step FLOP utilisation >= 90% of matmul peak"
                out.append([target, setting(p), f"{100 * r['utilisation']:.1f}%", r["utilisation"] >= 0.9])
    return out


def _aa_mine_targets(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """Per AA-MINE row: its cost against MINE's with the same critic, an ensemble's against K single
    critics, and bf16 or torch.compile against fp32 eager (informative)."""
    out: list[list[Any]] = []
    for r in rows:
        p = r.get("params", {})
        if r["workload"] != "critic-step" or p.get("estimator") != "aa-mine" or "error" in r:
            continue
        base = {k: v for k, v in p.items() if k not in ("estimator", "device")}
        mine = _find(rows, "critic-step", **{**base, "estimator": "mine"})
        if mine is not None and _plain(p):
            ratio = r["median_s"] / mine["median_s"]
            out.append(["AA-MINE step <= 1.25 x MINE step", setting(base), f"{ratio:.2f}x", ratio <= 1.25])
        single = _find(rows, "critic-step", estimator="aa-mine", hidden=p["hidden"], batch=p["batch"])
        if single is None:
            continue
        k = p.get("ensemble", 1)
        if k > 1:
            ratio = r["median_s"] / (k * single["median_s"])
            out.append(
                [f"K={k} ensemble step <= 0.5 K x one critic", setting(p), f"{ratio:.2f} K", ratio <= 0.5]
            )
        if p.get("precision", "fp32") != "fp32" or p.get("compile"):
            what = p["precision"] if p.get("precision", "fp32") != "fp32" else "torch.compile"
            speedup = f"{single['median_s'] / r['median_s']:.2f}x"
            out.append([f"{what} speed-up over fp32 eager (informative)", setting(p), speedup, None])
    return out


def _mixture_targets(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """The mixture truth at N = 60000 within 10 s, and at d >= 256 at >= 70 % of its dtype's peak."""
    out: list[list[Any]] = []
    for r in rows:
        if r["workload"] != "mixture-truth" or "error" in r or r["params"]["n"] < 60000:
            continue
        seconds = r["median_s"]
        out.append(
            ["mixture truth N=60000 in <= 10 s", setting(r["params"]), f"{seconds:.2f} s", seconds <= 10.0]
        )
        if r["params"]["dim"] >= 256:  # at d = 10 the exp of the N x M logits dominates, not the matmul
            dtype = r.get("extras", {}).get("precision", "fp32")
            out.append(
                [
                    f"mixture truth FLOP utilisation >= 70% of the {dtype} matmul peak",
                    setting(r["params"]) + f", blocks in {dtype}",
                    f"{100 * r['utilisation']:.1f}%",
                    r["utilisation"] >= 0.7,
                ]
            )
    return out


def table_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    def fmt(v, spec):
        return "" if v is None else format(v, spec)

    out = []
    for r in rows:
        if "error" in r:
            out.append([r["workload"], setting(r["params"]), f"failed: {r['error']}", "", "", "", "", ""])
            continue
        mem = r.get("cuda_peak_mib", r.get("peak_rss_mib"))
        out.append(
            [
                r["workload"],
                setting(r["params"]),
                fmt(1e3 * r["median_s"], ".2f"),
                fmt(r["calls_per_s"], ".1f"),
                fmt(r.get("samples_per_s"), ".3g"),
                fmt(r.get("gflops"), ".1f"),
                fmt(100 * r["utilisation"] if "utilisation" in r else None, ".0f"),
                fmt(mem, ".0f"),
            ]
        )
    return out


def precision_effect(device: torch.device, seeds: tuple[int, ...] = (0, 1, 2)) -> list[dict[str, Any]]:
    """MINE and AA-MINE (quick budget) on a 5-d dense Gaussian with 2 nats, per matmul precision."""
    from ..running.plugins import load_registry
    from ..running.runner import run
    from ..running.specs import EstimatorSpec, RunSpec, TaskSpec

    registry = load_registry()
    precisions = ["fp32", "bf16"] + (["tf32"] if device.type == "cuda" else [])
    out = []
    for est in ("mine", "aa-mine"):
        for precision in precisions:
            values, truth = [], None
            for seed in seeds:
                spec = RunSpec(
                    task=TaskSpec(name="gaussian", params={"dim": 5, "mi": 2.0, "structure": "dense"}),
                    estimator=EstimatorSpec(name=est, params={"precision": precision}),
                    seed=seed,
                    budget="quick",
                    device=str(device),
                )
                record = run(spec, registry)
                if record.status != "ok":
                    raise RuntimeError(f"{est} {precision} seed {seed} failed: {record.error}")
                values.append(record.estimate)
                truth = record.truth
            out.append(
                {
                    "estimator": est,
                    "precision": precision,
                    "truth": truth,
                    "estimates": values,
                    "mean": statistics.fmean(values),
                    "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                }
            )
    return out


def run_throughput(
    device: str = "auto",
    out_dir: Path = Path("results/benchmarks"),
    quick: bool = False,
    min_time: float = 1.0,
    with_precision: bool = True,
    echo: Callable[[str], None] = print,
) -> Path:
    """Measure every row, write ``throughput-<device>.md`` and ``.json`` to ``out_dir``; return the .md path."""
    dev = resolve(device)
    # --quick smoke-tests the command: small matmuls, whose peak is a lower bound of the real one
    sizes = (256, 512) if quick else None
    peak_time = 0.3 if quick else 1.0
    peak = matmul_peak(dev, sizes=sizes, min_time=peak_time)
    peak_bf16 = matmul_peak(dev, torch.bfloat16, sizes=sizes, min_time=peak_time)
    peak_fp64 = matmul_peak(dev, torch.float64, sizes=sizes, min_time=peak_time)
    peaks = {"fp32": peak["gflops"], "tf32": peak["gflops"], "bf16": peak_bf16["gflops"]}
    peaks["fp64"] = peak_fp64["gflops"]
    echo(
        f"matmul peak on {dev}: {peak['gflops']:.1f} GFLOP/s fp32, {peak_bf16['gflops']:.1f} bf16, "
        f"{peak_fp64['gflops']:.1f} fp64"
    )
    rows = []
    for name, params in grid(dev, quick):
        r = derive(measure_in_subprocess(name, params, min_time=min_time), peaks)
        rows.append(r)
        echo(
            f"  {name:14s} {setting(params):60s} "
            + (r["error"] if "error" in r else f"{1e3 * r['median_s']:.2f} ms")
        )
    precision = precision_effect(dev, seeds=(0,) if quick else (0, 1, 2)) if with_precision else []
    prov = provenance(dev)
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = "cuda" if dev.type == "cuda" else "cpu"
    command = f"ibbench bench throughput --device {tag}" + (" --quick" if quick else "")
    if Path(out_dir) != Path("results/benchmarks"):  # one table per machine: say where this one goes
        command += f" --out-dir {out_dir}"
    (out_dir / f"throughput-{tag}.json").write_text(
        json.dumps(
            {
                "command": command,
                "matmul_peak": peak,
                "matmul_peak_bf16": peak_bf16,
                "matmul_peak_fp64": peak_fp64,
                "rows": rows,
                "precision_effect": precision,
                "provenance": prov,
                "threads": torch.get_num_threads(),
            },
            indent=1,
        )
        + "\n"
    )
    md = out_dir / f"throughput-{tag}.md"
    md.write_text(render_markdown(command, peak, peak_bf16, rows, precision, prov, peak_fp64))
    return md


def render_markdown(
    command: str,
    peak: dict[str, Any],
    peak_bf16: dict[str, Any],
    rows: list[dict[str, Any]],
    precision: list[dict[str, Any]],
    prov: dict[str, Any],
    peak_fp64: dict[str, Any] | None = None,
) -> str:
    headers = ["workload", "setting", "ms/call", "calls/s", "samples/s", "GFLOP/s", "% peak", "peak MiB"]
    lines = [
        f"# Throughput on {prov['device']}",
        "",
        f"Made by `{command}` at commit {prov['git']['commit']} (torch {prov['versions'].get('torch')}, "
        f"python {prov['versions'].get('python')}).",
        f"Matmul peak: {peak['gflops']:.1f} GFLOP/s float32 ({peak['size']}x{peak['size']}), "
        f"{peak_bf16['gflops']:.1f} GFLOP/s bfloat16 ({peak_bf16['size']}x{peak_bf16['size']})"
        + (f", {peak_fp64['gflops']:.1f} GFLOP/s float64" if peak_fp64 else "")
        + ": the best square matmul of several sizes, measured in the same session; bf16 rows are measured "
        "against the bf16 peak, and the mixture truth against the peak of the dtype its blocks ran in (float64 "
        "where float32 would round a logit by more than 1e-4 nats); a trainer step whose critics ran in bf16 "
        "beside an fp32 network has no single peak, and no % peak.  With ensemble=8 the members share one "
        "sampled batch, so the sampler's FLOPs count once.",
        "",
        "ms/call is the median over >= 1 s of calls after 2 warm-up calls; a critic step is one Adam update "
        "(sampling included); GFLOP/s counts matmul FLOPs only; peak MiB is the row's process peak RSS "
        "(CPU; torch's import alone is a few hundred MiB) or CUDA peak allocated memory.",
        "",
        tabulate(table_rows(rows), headers=headers, tablefmt="github"),
        "",
        "## Targets",
        "",
        tabulate(
            [[t, s, m, {True: "met", False: "NOT met", None: ""}[ok]] for t, s, m, ok in targets(rows)],
            headers=["target", "setting", "measured", ""],
            tablefmt="github",
        ),
        "",
    ]
    if precision:
        lines += [
            "## Effect of matmul precision on the estimate",
            "",
            "Quick budget (2000 steps, 2x256 critic), 5-d dense Gaussian with I = 2 nats; mean +- std "
            f"over seeds {', '.join(str(i) for i in range(len(precision[0]['estimates'])))}.",
            "",
            tabulate(
                [
                    [
                        p["estimator"],
                        p["precision"],
                        f"{p['truth']:.3f}",
                        f"{p['mean']:.3f} +- {p['std']:.3f}",
                        f"{p['mean'] - p['truth']:+.3f}",
                    ]
                    for p in precision
                ],
                headers=["estimator", "precision", "truth", "estimate", "bias"],
                tablefmt="github",
            ),
            "",
        ]
    return "\n".join(lines)

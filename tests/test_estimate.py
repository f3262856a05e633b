"""`ibbench estimate` on your own arrays: formats, the answer on data with a known MI, clear errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ibbench.errors import DataError
from ibbench.tasks.arrays import load_array

from .conftest import run_cli
from .test_cli import assert_one_line_error

RHO = 0.9
TRUTH = -0.5 * math.log(1 - RHO**2)  # I of a bivariate Gaussian with correlation rho, nats


@pytest.fixture
def pairs(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 2))
    y = RHO * x[:, :1] + math.sqrt(1 - RHO**2) * rng.normal(size=(2000, 1))  # only x_0 informs y
    np.save(tmp_path / "x.npy", x)
    np.savetxt(tmp_path / "y.csv", y, delimiter=",", header="y", comments="")
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    return tmp_path


def test_ksg_on_npy_and_csv_recovers_the_known_mi(pairs):
    proc = run_cli(
        "estimate",
        "--x",
        str(pairs / "x.npy"),
        "--y",
        str(pairs / "y.csv"),
        "--estimator",
        "ksg",
        "--budget",
        "smoke",
        "--out",
        str(pairs / "r.jsonl"),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert abs(record["estimate"] - TRUTH) < 0.1 and record["estimate_stderr"] > 0
    assert record["expanded"]["estimator"]["params"]["n_samples"] is None  # not set: every pair
    assert record["extras"]["estimator"]["pairs_used"] == 2000  # all the rows, not the smoke budget's 1000
    assert (
        record["extras"]["task"]["x"]["shape"] == [2000, 2]
        and len(record["extras"]["task"]["y"]["sha256"]) == 64
    )


def test_npz_members_and_the_printed_line(pairs):
    proc = run_cli(
        "estimate",
        "--x",
        f"{pairs / 'xy.npz'}:x",
        "--y",
        f"{pairs / 'xy.npz'}:y",
        "--estimator",
        "binning",
        "--budget",
        "smoke",
        "--out",
        str(pairs / "r.jsonl"),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("I(X;Y) = ") and "nats (binning, smoke budget, 2000 pairs)" in proc.stdout


@pytest.mark.parametrize(
    "make,fragment",
    [
        (lambda d: (d / "missing.npy", d / "y.csv"), "not found"),
        (lambda d: (d / "xy.npz", d / "y.csv"), "holds 2 arrays (x, y); pick one"),
        (lambda d: (d / "x.npy", d / "short.npy"), "x has 2000 rows but y has 10"),
        (lambda d: (d / "x.npy", d / "nan.npy"), "1 rows hold NaN or inf"),
        (lambda d: (d / "x.npy", d / "y.txt"), "unknown array format '.txt'"),
        (lambda d: (d / "x.npy", d / "broken.npy"), "is not a readable .npy array"),
    ],
)
def test_bad_arrays_are_one_line_errors(pairs, make, fragment):
    np.save(pairs / "short.npy", np.zeros((10, 1)))
    nan = np.zeros((2000, 1))
    nan[5] = np.nan
    np.save(pairs / "nan.npy", nan)
    (pairs / "y.txt").write_text("1\n2\n")
    (pairs / "broken.npy").write_bytes((pairs / "x.npy").read_bytes()[:200])
    x, y = make(pairs)
    proc = run_cli(
        "estimate",
        "--x",
        str(x),
        "--y",
        str(y),
        "--estimator",
        "ksg",
        "--budget",
        "smoke",
        "--out",
        str(pairs / "r.jsonl"),
    )
    assert_one_line_error(proc, fragment)
    assert not (pairs / "r.jsonl").exists()  # bad input leaves no record


def test_estimate_refuses_task_settings(pairs):
    proc = run_cli(
        "estimate",
        "--x",
        str(pairs / "x.npy"),
        "--y",
        str(pairs / "y.csv"),
        "--estimator",
        "ksg",
        "--set",
        "task.dim=3",
        "--out",
        str(pairs / "r.jsonl"),
    )
    assert_one_line_error(proc, "only --set estimator.FIELD=VALUE")


def test_one_dimensional_arrays_are_one_feature(tmp_path):
    np.save(tmp_path / "v.npy", np.arange(5.0))
    array, source = load_array(str(tmp_path / "v.npy"))
    assert array.shape == (5, 1) and source["shape"] == [5, 1]
    with pytest.raises(DataError, match="fewer than 2 samples"):
        np.save(tmp_path / "one.npy", np.zeros((1, 3)))
        load_array(str(tmp_path / "one.npy"))

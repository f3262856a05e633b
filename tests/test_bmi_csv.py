"""`ibbench estimate --sample`: one CSV in the layout of bmi's ``save_sample`` (benchmark-mi, Czyz et al.
2023), a header X0,...,X{dx-1},Y0,...,Y{dy-1} and one row per sample (pandas ``to_csv(index=False)``)."""

from __future__ import annotations

import csv
import math
import os
import warnings

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from ibbench.cli import main
from ibbench.errors import DataError
from ibbench.store.results import ResultStore
from ibbench.tasks.arrays import ArraysInstance, ArraysParams, load_sample

from .conftest import stderr_lines

RHO = 0.8
TRUTH = -0.5 * math.log(1 - RHO**2)  # 0.5108 nats


def write_bmi(path, header, rows):
    """A CSV as bmi's save_sample writes it: a header line, then one row of numbers per sample."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def cli(capsys, monkeypatch):
    """``ibbench ARGS`` in this process: (exit status, stdout, stderr), leaving the process as it was
    (main() replaces warnings.showwarning and sets the thread count and $OMP_NUM_THREADS)."""
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", str(torch.get_num_threads())))
    threads = torch.get_num_threads()

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main(list(args))
        finally:
            torch.set_num_threads(threads)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


# each row: X0, X1, Y0 values that tell the columns apart
ROWS = [(0.0 + i, 10.0 + i, 100.0 + i) for i in range(5)]


@pytest.mark.parametrize(
    "header,order",
    [
        (["X0", "X1", "Y0"], (0, 1, 2)),
        (["Y0", "X1", "X0"], (2, 1, 0)),  # the file's order is not the variables' order
    ],
    ids=["bmi-order", "shuffled"],
)
def test_columns_go_to_x_and_y_by_name_and_number(tmp_path, header, order):
    rows = [[row[j] for j in order] for row in ROWS]  # column k of the file holds value order[k]
    x, y, source = load_sample(str(write_bmi(tmp_path / "s.csv", header, rows)))
    assert x.shape == (5, 2) and y.shape == (5, 1)
    np.testing.assert_array_equal(x, [[r[0], r[1]] for r in ROWS])
    np.testing.assert_array_equal(y, [[r[2]] for r in ROWS])
    assert source["x_columns"] == ["X0", "X1"] and source["y_columns"] == ["Y0"]
    assert source["shape"] == [5, 3] and len(source["sha256"]) == 64


def test_the_record_names_the_file_once(tmp_path):
    path = write_bmi(tmp_path / "s.csv", ["X0", "X1", "Y0"], ROWS)
    described = ArraysInstance(ArraysParams(sample=str(path))).describe()
    assert described["sample"]["path"] == str(path) and "x" not in described and "y" not in described
    assert described["pairs"] == 5 and described["sample"]["y_columns"] == ["Y0"]


@pytest.mark.parametrize(
    "header,fragment",
    [
        (["X0", "Z0", "Y0"], "column 'Z0' is neither X<int> nor Y<int>"),
        (["X0", "X1", "X2"], "has no Y column"),
        (["", "X0", "Y0"], "has no name (a pandas index? save with index=False)"),
        (["X0", "X0", "Y0"], "column 'X0' appears more than once"),
        (["0.5", "1.5", "2.5"], "has no header line"),
    ],
    ids=["unknown", "no-y", "index", "repeated", "no-header"],
)
def test_a_file_not_in_bmi_layout_is_a_data_error(tmp_path, header, fragment):
    path = write_bmi(tmp_path / "s.csv", header, ROWS)
    with pytest.raises(DataError, match="X0,...") as info:
        load_sample(str(path))
    message = str(info.value)
    assert fragment in message and str(path) in message and "\n" not in message


@pytest.mark.parametrize(
    "header,fragment",
    [
        (["X0", "X2", "Y0"], "column X1 is missing (X columns are X0, X2); number the X columns X0 to X1"),
        (["X1", "X2", "Y0"], "column X0 is missing (X columns are X1, X2)"),
        (["X0", "Y0", "Y1", "Y3"], "column Y2 is missing (Y columns are Y0, Y1, Y3)"),
        (["X0", "X1", "X01", "Y0"], "columns 'X1' and 'X01' are both X1; give each X column one number"),
    ],
    ids=["gap", "no-zero", "y-gap", "same-number"],
)
def test_a_gap_or_a_repeat_in_the_column_numbers_is_a_data_error(tmp_path, header, fragment):
    rows = [[float(i + j) for j in range(len(header))] for i in range(5)]
    path = write_bmi(tmp_path / "s.csv", header, rows)
    with pytest.raises(DataError) as info:
        load_sample(str(path))
    message = str(info.value)
    assert fragment in message and str(path) in message and "\n" not in message


def test_a_gap_in_the_columns_is_exit_2_with_one_line_naming_the_column(tmp_path, cli):
    path = write_bmi(tmp_path / "gap.csv", ["X0", "X2", "Y0"], ROWS)
    code, out, err = cli(
        "estimate", "--sample", str(path), "--estimator", "ksg", "--out", str(tmp_path / "r.jsonl")
    )
    assert code == 2 and out == ""
    assert [
        line.startswith("ibbench: error: ") and "column X1 is missing" in line for line in stderr_lines(err)
    ] == [True]
    assert not (tmp_path / "r.jsonl").exists()


def test_missing_values_and_missing_files_are_data_errors(tmp_path):
    path = write_bmi(tmp_path / "s.csv", ["X0", "Y0"], [[1.0, 2.0], [3.0, ""]])
    with pytest.raises(DataError, match="not a CSV of numbers below its header"):
        load_sample(str(path))
    with pytest.raises(DataError, match="sample file .* not found"):
        load_sample(str(tmp_path / "missing.csv"))


@pytest.mark.parametrize(
    "params",
    [{"sample": "s.csv", "x": "x.npy"}, {"sample": "s.csv", "x": "x.npy", "y": "y.npy"}, {"x": "x.npy"}, {}],
)
def test_sample_or_x_and_y_never_both(params):
    with pytest.raises(ValidationError, match="give"):
        ArraysParams(**params)


def test_estimate_with_sample_recovers_the_known_mi(tmp_path, cli):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 1))
    y = RHO * x + math.sqrt(1 - RHO**2) * rng.normal(size=(2000, 1))
    path = write_bmi(tmp_path / "f.csv", ["X0", "Y0"], np.hstack([x, y]).tolist())
    out = tmp_path / "runs.jsonl"
    code, _, err = cli(
        "estimate",
        "--sample",
        str(path),
        "--estimator",
        "ksg",
        "--budget",
        "smoke",
        "--out",
        str(out),
        "--quiet",
        "--threads",
        "1",
    )
    assert code == 0, err
    [record] = ResultStore(out).records()
    assert record.status == "ok" and abs(record.estimate - TRUTH) < 0.1, record.estimate
    assert record.extras["task"]["sample"]["x_columns"] == ["X0"] and record.extras["task"]["pairs"] == 2000


@pytest.mark.parametrize(
    "files,fragment",
    [
        (["--sample", "f.csv", "--x", "x.npy"], "not both"),
        (["--x", "x.npy"], "needs --x X --y Y (two files) or --sample FILE.csv"),
        ([], "needs --x X --y Y (two files) or --sample FILE.csv"),
    ],
    ids=["both", "x-alone", "neither"],
)
def test_sample_with_x_is_exit_2_with_one_line(tmp_path, cli, files, fragment):
    code, out, err = cli("estimate", *files, "--estimator", "ksg", "--out", str(tmp_path / "r.jsonl"))
    assert code == 2 and out == ""
    assert len(stderr_lines(err)) == 1 and fragment in err, err
    assert not (tmp_path / "r.jsonl").exists()


def test_n_samples_beyond_the_rows_of_a_sample_is_exit_2_before_any_work(tmp_path, cli):
    path = write_bmi(tmp_path / "f.csv", ["X0", "Y0"], [[float(i), float(i % 7)] for i in range(50)])
    code, out, err = cli(
        "estimate",
        "--sample",
        str(path),
        "--estimator",
        "ksg",
        "--set",
        "estimator.n_samples=60",
        "--out",
        str(tmp_path / "r.jsonl"),
    )
    assert code == 2 and out == ""
    assert stderr_lines(err) == [
        "ibbench: error: asked for 60 pairs but f.csv has 50 rows; drop n_samples or give at most 50"
    ]
    assert not (tmp_path / "r.jsonl").exists()

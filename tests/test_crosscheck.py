"""The bmi cross-check of the Beyond Normal tasks: its agreement rule and its skip without bmi."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from .conftest import REPO

spec = importlib.util.spec_from_file_location("crosscheck", REPO / "scripts" / "beyond_normal_crosscheck.py")
crosscheck = importlib.util.module_from_spec(spec)
spec.loader.exec_module(crosscheck)


def test_equal_samplers_agree_and_a_shifted_one_does_not():
    same = crosscheck.agreement([0.41, 0.42, 0.40, 0.43, 0.41], [0.42, 0.40, 0.41, 0.42, 0.43], tasks=40)
    assert same[2] and abs(same[0]) < 0.01
    shifted = crosscheck.agreement([0.41, 0.42, 0.40, 0.43, 0.41], [0.51, 0.52, 0.50, 0.53, 0.51], tasks=40)
    assert not shifted[2] and shifted[1] < 0.05 / 40


def test_failed_runs_leave_too_few_seeds_to_agree():
    assert crosscheck.agreement([0.4, None, None], [0.4, 0.41, 0.42], tasks=40)[2] is False


def test_without_bmi_it_is_skipped_with_a_message():
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "beyond_normal_crosscheck.py")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and "cross-check skipped" in proc.stdout

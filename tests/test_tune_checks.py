"""One-factor budget checks of a tuned suite (``ibbench.sweeps.checks``): the selected setting with one
factor changed, on evaluation seeds, into its own file, read against the selected setting by seed."""

from __future__ import annotations

import pytest

from ibbench.errors import SpecError
from ibbench.reproduction.reproduce import Result, SuiteRun, check
from ibbench.running.plugins import load_registry
from ibbench.running.specs import suite_from_data
from ibbench.store.results import ResultStore
from ibbench.sweeps.checks import checks_path, checks_table
from ibbench.sweeps.suite import run_suite
from ibbench.sweeps.tuning import select, tuning_path

from .conftest import run_cli

REGISTRY = load_registry()

SUITE = """name = "check-digits"
budget = "smoke"
device = "cpu"
seeds = [0, 1]
tasks = [{ name = "digits-mlp" }]

[tune]
configurations = 2
seeds = [7]

[[tune.spaces]]
trainer = "ce"
params = { steps = 40 }
grid = { lr = [3e-2, 3e-3] }
check = { params = { steps = 120 }, seeds = [0, 1] }

[[tune.spaces]]
trainer = "ce-wd"
params = { steps = 40, weight_decay = 1e-3 }
grid = { lr = [3e-2, 3e-3] }
"""


def _suite(text: str = SUITE):
    import tomllib

    return suite_from_data(tomllib.loads(text), "suite")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("check = { params = { steps = 120 }", "check = { params = { lr = 1e-3 }"),
            "which the selection sets",
        ),
        (("seeds = [0, 1] }", "seeds = [0, 5] }"), r"check seeds \[5\] are not among the suite's seeds"),
        (("check = { params = { steps = 120 }", "check = { params = {}"), "check.params"),
    ],
)
def test_a_check_that_is_not_one_paired_factor_is_refused_naming_why(change, message):
    with pytest.raises(SpecError, match=message):
        _suite(SUITE.replace(*change))


def test_the_selected_setting_runs_again_with_the_factor_changed_and_pairs_by_seed(tmp_path, capsys):
    path, store = tmp_path / "check.toml", tmp_path / "runs.jsonl"
    path.write_text(SUITE)
    assert run_suite(path, out=store, registry=REGISTRY, checkpoint_every_s=None) == 0
    suite = _suite()
    chosen = {
        s.space.trainer: s.chosen.config for s in select(suite, ResultStore(tuning_path(store)).records())
    }
    checked = ResultStore(checks_path(store)).records()
    # only the space with a check, its selected values held, the factor changed, on the check's seeds
    assert sorted(r.spec.seed for r in checked) == [0, 1]
    assert all(
        r.spec.trainer.name == "ce" and r.spec.trainer.params == {**chosen["ce"], "steps": 120}
        for r in checked
    )
    assert all(
        r.spec.trainer.params["steps"] == 40 for r in ResultStore(store).records()
    )  # the store: suite budget
    # the table: the check against the selected setting's own runs, seed by seed
    both = ResultStore(store).records() + checked
    table = checks_table(suite, both)
    row = next(line for line in table.splitlines() if "steps 40 -> 120" in line)
    base = {
        r.spec.seed: 100 * r.training.test_acc
        for r in ResultStore(store).records()
        if r.spec.trainer.name == "ce"
    }
    longer = {r.spec.seed: 100 * r.training.test_acc for r in checked}
    difference = sum(longer[s] - base[s] for s in (0, 1)) / 2
    assert f"{difference:+.2f}" in row and "0, 1" in row
    assert checks_table(suite, ResultStore(store).records()).startswith("no one-factor check")
    # the reproduce check counts the check cells; the command line reads both files
    (state,) = check(
        [Result(name="t", kind="training", runs=[SuiteRun(suite=str(path), store=str(store))])], REGISTRY
    )
    assert state.missing == 0 and state.records.total == 4 + 4 + 2
    printed = run_cli(
        "table", "checks", "--suite", str(path), "--store", str(store), "--store", str(checks_path(store))
    )
    assert printed.returncode == 0 and f"{difference:+.2f}" in printed.stdout
    refused = run_cli("table", "checks", "--store", str(store))
    assert refused.returncode != 0 and "needs --suite" in refused.stderr


def test_a_check_waits_for_its_selection_and_counts_as_missing(tmp_path):
    path, store = tmp_path / "check.toml", tmp_path / "runs.jsonl"
    path.write_text(SUITE)
    (state,) = check(
        [Result(name="t", kind="training", runs=[SuiteRun(suite=str(path), store=str(store))])], REGISTRY
    )
    assert state.missing == 4 + 4 + 2  # candidates, evaluation placeholders, check placeholders

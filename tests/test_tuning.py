"""A fair tuning protocol (``ibbench.sweeps.tuning``): the same number of configurations for every trainer,
selection on validation accuracy only, the selected setting alone trained on the evaluation seeds."""

from __future__ import annotations

import json
import statistics

import pytest

from ibbench.errors import SpecError
from ibbench.reproduction.reproduce import Result, SuiteRun, check
from ibbench.running.plugins import load_registry
from ibbench.running.specs import suite_from_data
from ibbench.store.results import ResultStore
from ibbench.sweeps.suite import run_suite
from ibbench.sweeps.tuning import configurations, select, tuning_path, tuning_table

REGISTRY = load_registry()

SUITE = """name = "tune-digits"
budget = "smoke"
device = "cpu"
seeds = [0]
tasks = [{ name = "digits-mlp" }]
trainers = [{ name = "random-features" }]

[tune]
configurations = 2
seeds = [7, 8]

[[tune.spaces]]
trainer = "ce"
params = { steps = 60 }
grid = { lr = [3e-2, 3e-3] }

[[tune.spaces]]
trainer = "ce-wd"
params = { steps = 60 }
grid = { lr = [3e-2, 3e-3], weight_decay = [1e-4, 1e-2, 1e-1] }
"""


def _suite(text: str = SUITE):
    import tomllib

    return suite_from_data(tomllib.loads(text), "suite")


def test_every_trainer_tries_the_same_number_of_configurations_drawn_the_same_way_each_time():
    suite = _suite()
    ce, wd = suite.tune.spaces
    assert configurations(suite, ce) == [{"lr": 3e-2}, {"lr": 3e-3}]  # the whole grid, in order
    drawn = configurations(suite, wd)
    assert len(drawn) == 2 and drawn == configurations(_suite(), wd)  # 2 of its 6, the same on a resume
    assert all(c["lr"] in (3e-2, 3e-3) and c["weight_decay"] in (1e-4, 1e-2, 1e-1) for c in drawn)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("seeds = [7, 8]\n", "tune.seeds and seeds share [7]"),
        ("configurations = 2\n", "ce has 2"),
    ],
)
def test_a_tuning_block_that_is_not_fair_is_refused_naming_why(change, message):
    text = SUITE.replace("seeds = [0]\n", "seeds = [0, 7]\n") if "share" in message else SUITE
    if "ce has" in message:
        text = text.replace(change, "configurations = 3\n")
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _suite(text)
    with pytest.raises(SpecError, match="both fixed"):
        _suite(
            SUITE.replace(
                "params = { steps = 60 }\ngrid = { lr", "params = { steps = 60, lr = 1e-3 }\ngrid = { lr", 1
            )
        )


def test_the_suite_selects_on_validation_accuracy_then_runs_only_the_selected_setting(tmp_path, capsys):
    path, store = tmp_path / "tune.toml", tmp_path / "runs.jsonl"
    path.write_text(SUITE)
    assert run_suite(path, out=store, registry=REGISTRY, checkpoint_every_s=None) == 0
    # the printed lines: a candidate's gives its validation accuracy only; the evaluation cells' give test
    lines = capsys.readouterr().out.splitlines()
    blind = [line for line in lines if "seed 7," in line or "seed 8," in line]
    assert len(blind) == 8 and all("test accuracy withheld" in line for line in blind), lines
    assert all("test accuracy" in line and "withheld" not in line for line in lines if "seed 0," in line)
    candidates = ResultStore(tuning_path(store)).records()
    assert len(candidates) == 2 * 2 * 2 and {r.spec.seed for r in candidates} == {7, 8}
    suite = _suite()
    selections = select(suite, candidates)
    for s in selections:
        best = max((c for c in s.candidates if c.score is not None), key=lambda c: c.score)
        assert s.chosen is best and s.chosen.score == statistics.fmean(s.chosen.val_accs)
    evaluated = ResultStore(store).records()
    assert {r.spec.seed for r in evaluated} == {0}  # the test accuracy reported: evaluation seeds only
    tuned = {
        r.spec.trainer.name: r.spec.trainer.params
        for r in evaluated
        if r.spec.trainer.name != "random-features"
    }
    assert tuned == {s.space.trainer: {**s.space.params, **s.chosen.config} for s in selections}
    # the table shows validation accuracy and the selection, never the candidates' test accuracy
    table = tuning_table(candidates, suite=suite)
    assert table.count("selected") == 2 and "test" not in table.split("\n\n")[0].lower()
    assert tuning_table(candidates).count("best so far") == 2  # without the suite it cannot know
    # the reproduce check counts the candidates and the selected cells: nothing missing now
    (state,) = check(
        [Result(name="t", kind="training", runs=[SuiteRun(suite=str(path), store=str(store))])], REGISTRY
    )
    assert state.missing == 0 and state.records.total == len(candidates) + len(evaluated)


def test_no_setting_is_selected_while_a_candidate_is_missing_and_a_failed_one_never_is(tmp_path):
    path, store = tmp_path / "tune.toml", tmp_path / "runs.jsonl"
    path.write_text(SUITE)
    assert run_suite(path, out=store, registry=REGISTRY, checkpoint_every_s=None) == 0
    suite = _suite()
    candidates = ResultStore(tuning_path(store)).records()
    partial = [r for r in candidates if not (r.spec.trainer.name == "ce" and r.spec.seed == 8)]
    waiting = {s.space.trainer: s for s in select(suite, partial)}
    assert waiting["ce"].chosen is None and waiting["ce"].missing == 2  # a seed short on both candidates
    assert waiting["ce-wd"].chosen is not None
    chosen = waiting["ce-wd"].chosen.config
    failed = [
        r.model_copy(update={"status": "failed", "training": None})
        if r.spec.trainer.name == "ce-wd"
        and r.spec.trainer.params.items() >= chosen.items()
        and r.spec.seed == 7
        else r
        for r in candidates
    ]
    again = {s.space.trainer: s for s in select(suite, failed)}
    assert again["ce-wd"].chosen is not None and again["ce-wd"].chosen.config != chosen
    # the table says the same: ce leads on 2 of its 4 runs, ce-wd is selected
    table = tuning_table(partial, suite=suite)
    assert table.count("selected") == 1 and table.count("leading (2 of 4 runs)") == 1


def test_the_guide_tuning_block_is_a_valid_suite():
    """The [tune] example of the user guide's Sweeps page (docs/guide/sweeps.md, once the README's)."""
    from pathlib import Path

    page = (Path(__file__).parents[1] / "docs" / "guide" / "sweeps.md").read_text(encoding="utf-8")
    block = page.split("**Tuning every trainer alike.**", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    suite = _suite('name = "x"\nseeds = [0, 1, 2]\ntasks = [{ name = "mnist-mlp" }]\n' + block)
    assert [len(configurations(suite, space)) for space in suite.tune.spaces] == [4, 4]
    for space in suite.tune.spaces:  # every searched and fixed value is a valid parameter of its trainer
        plugin = REGISTRY.get("trainer", space.trainer).load()
        for config in configurations(suite, space):
            plugin.params_for("quick", {**space.params, **config})


def test_a_stale_candidate_is_seen_by_the_check_and_set_aside_to_run_again(tmp_path):
    """A candidate decides which setting the evaluation seeds run: one today's code would not reproduce
    is reported by ``reproduce --check`` (even before the evaluation store exists) and re-run."""
    import json

    from ibbench.sweeps.suite import set_aside_stale, stale_path

    path, store = tmp_path / "tune.toml", tmp_path / "runs.jsonl"
    path.write_text(SUITE)
    assert run_suite(path, out=store, registry=REGISTRY, checkpoint_every_s=None) == 0
    tuning = tuning_path(store)
    rows = [json.loads(line) for line in tuning.read_text().splitlines()]
    for row in rows:  # made from a clean tree (this test may run in a dirty one)
        row["provenance"]["git"] = {"commit": "abc", "dirty": False}
    stale = rows[0]
    stale["provenance"]["source"] = {**stale["provenance"]["source"], "ibbench.api": "0" * 12}
    lines = [json.dumps(row) for row in rows]
    tuning.write_text("\n".join(lines) + "\n")
    store.unlink()
    result = Result(name="t", kind="training", runs=[SuiteRun(suite=str(path), store=str(store))])
    (state,) = check([result], REGISTRY)
    assert f"store {store} missing" in state.problems
    assert state.records.total == len(lines) and state.records.current == len(lines) - 1
    assert set_aside_stale(store, REGISTRY) == 1
    assert [r.id for r in ResultStore(stale_path(tuning)).records()] == [stale["id"]]
    assert run_suite(path, out=store, registry=REGISTRY, checkpoint_every_s=None) == 0
    rerun = ResultStore(tuning).records()
    assert len(rerun) == len(lines) and stale["id"] not in {r.id for r in rerun}


def test_two_spaces_of_one_trainer_are_tuned_and_shown_apart(tmp_path):
    """Table 2's rows IB on I(Y; L) (beta = 0) and full IB are both ib-layerwise: each is its own space,
    with its own selection and its own rows in the tuning table."""
    from ibbench.sweeps.tuning import space_labels

    text = SUITE.split("[[tune.spaces]]")[0] + (
        '[[tune.spaces]]\ntrainer = "ce"\nparams = { steps = 60, weight_decay = 0.0 }\n'
        "grid = { lr = [3e-2, 3e-3] }\n\n"
        '[[tune.spaces]]\ntrainer = "ce"\nparams = { steps = 60 }\n'
        "grid = { lr = [3e-2, 3e-3], weight_decay = [1e-4, 1e-3] }\n"
    )
    path, store = tmp_path / "tune.toml", tmp_path / "runs.jsonl"
    path.write_text(text)
    suite = _suite(text)
    assert space_labels(suite) == ["ce[weight_decay=0.0]", "ce"]
    assert run_suite(path, out=store, registry=REGISTRY, checkpoint_every_s=None) == 0
    candidates = ResultStore(tuning_path(store)).records()
    chosen = [s.chosen for s in select(suite, candidates)]
    assert all(c is not None for c in chosen) and chosen[0].config != chosen[1].config
    table = tuning_table(candidates, suite=suite).split("\n\n")[0]
    rows = [line for line in table.splitlines()[2:]]
    assert sum("| ce[weight_decay=0.0] " in r for r in rows) == 2 and sum("| ce " in r for r in rows) == 2
    assert table.count("selected") == 2
    evaluated = {json.dumps(r.spec.trainer.params, sort_keys=True) for r in ResultStore(store).records()}
    assert len(evaluated) == 3  # random-features and one setting per space

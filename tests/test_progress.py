"""Progress where no terminal shows a bar: rate-limited phase lines on stderr, silenced by --quiet."""

from __future__ import annotations

from ibbench.running import progress as progress_mod


def test_phase_lines_report_steps_and_the_end(monkeypatch, capsys):
    monkeypatch.setattr(progress_mod, "LINE_EVERY_S", 0.0)
    monkeypatch.setattr(progress_mod, "MIN_PHASE_S", 0.0)
    bar = progress_mod.progress(3, "ce", mode="lines")
    for _ in range(3):
        bar.update(1)
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines[:3] == ["ibbench: ce: step 1/3", "ibbench: ce: step 2/3", "ibbench: ce: step 3/3"]
    assert lines[3].startswith("ibbench: ce: done, 3/3 steps in")


def test_where_labels_lines_and_announce_prints_only_as_lines(monkeypatch, capsys):
    monkeypatch.setattr(progress_mod, "LINE_EVERY_S", 0.0)
    monkeypatch.setattr(progress_mod, "MIN_PHASE_S", 0.0)
    with progress_mod.where("information plane step 40, layer 2"):
        progress_mod.announce(False, "quiet or a terminal: nothing")
        progress_mod.announce(True, "a terminal: its bars say it")
        progress_mod.announce("lines", "starting")
        with progress_mod.where("I(X;L)"):
            progress_mod.progress(5, "mine critic", mode="lines").update(1)
    progress_mod.progress(5, "ce", mode="lines").update(1)
    assert capsys.readouterr().err.splitlines() == [
        "ibbench: information plane step 40, layer 2: starting",
        "ibbench: information plane step 40, layer 2: I(X;L): mine critic: step 1/5",
        "ibbench: ce: step 1/5",
    ]


def test_phase_lines_are_rate_limited_across_phases(monkeypatch, capsys):
    monkeypatch.setattr(progress_mod, "MIN_PHASE_S", 0.0)
    monkeypatch.setattr(progress_mod, "_last_line", [float("-inf")])
    outer, inner = (progress_mod.progress(1000, name, mode="lines") for name in ("training", "critic"))
    for _ in range(1000):
        outer.update(1)
        inner.update(1)
    assert len(capsys.readouterr().err.splitlines()) == 1  # the first line; the next is LINE_EVERY_S away


def test_a_run_logged_to_a_file_says_what_it_is_doing_and_quiet_silences_it(tmp_path, monkeypatch, capsys):
    from ibbench.cli import main

    monkeypatch.setattr(
        progress_mod, "LINE_EVERY_S", 0.0
    )  # every line, at once (stderr is not a terminal here)
    monkeypatch.setattr(progress_mod, "MIN_PHASE_S", 0.0)
    monkeypatch.setattr("ibbench.running.runner.MIN_PHASE_S", 0.0)
    args = [
        "run",
        "--task",
        "digits-mlp",
        "--estimator",
        "mine",
        "--budget",
        "smoke",
        "--out",
        str(tmp_path / "runs.jsonl"),
    ]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "ibbench: digits-mlp: task built (data, ground truth) in" in err
    assert "ibbench: ce: step 1/150" in err  # training
    # measuring: each point announced, each critic's line naming its point, layer and term
    assert "ibbench: information plane: measuring the point at step 75 (I(X;L) and I(Y;L) of 3 layers)" in err
    assert "ibbench: information plane step 75, layer 2, I(Y;L): mine critic: step 1/" in err
    assert "ibbench: linear probes: fitting a readout on each of 3 layers" in err  # after `ce: done`
    assert main([*args, "--quiet"]) == 0
    assert capsys.readouterr().err == ""

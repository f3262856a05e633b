"""The README's suite example is the committed suite's output, and the suite still produces it."""

from __future__ import annotations

import importlib.util

from ibbench.plugins import load_registry
from ibbench.results import ResultStore
from ibbench.suite import run_suite
from ibbench.threads import use_threads

from .conftest import REPO

spec = importlib.util.spec_from_file_location("readme_examples", REPO / "scripts" / "readme_examples.py")
examples = importlib.util.module_from_spec(spec)
spec.loader.exec_module(examples)


def test_the_readme_block_is_the_committed_suite_and_its_store():
    assert examples.current_block(examples.README.read_text()) == examples.block(examples.STORE)


def test_running_the_suite_again_gives_the_stored_accuracies(tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", str(torch.get_num_threads()))  # use_threads sets it; undone after

    out, before = tmp_path / "runs.jsonl", torch.get_num_threads()
    use_threads(examples.THREADS)  # the store was made at this count; another reorders float sums
    try:
        run_suite(examples.SUITE, out=out, registry=load_registry(), checkpoint_every_s=None)
    finally:
        torch.set_num_threads(before)

    def accuracies(path):
        return sorted(
            (r.spec.trainer.name, r.spec.seed, r.training.test_acc) for r in ResultStore(path).records()
        )

    assert accuracies(out) == accuracies(examples.STORE)

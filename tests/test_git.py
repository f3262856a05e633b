"""The one way ibbench runs git (``ibbench.store.git``): what a failure means is the caller's choice."""

import subprocess

import pytest

from ibbench.errors import IbbenchError
from ibbench.store.git import git, git_blob


def _repository(path):
    def run(*args):
        subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True)

    run("init", "-q")
    (path / "crlf.txt").write_bytes(b"one\r\ntwo\r\n")
    run("add", ".")
    run("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "-m", "one")
    return git(path, "rev-parse", "HEAD")


def test_answer_without_trailing_newline_and_none_where_git_fails(tmp_path):
    commit = _repository(tmp_path)
    assert len(commit) == 40 and "\n" not in commit
    assert git(tmp_path, "rev-parse", "no-such-commit") is None
    assert git(tmp_path / "missing", "status") is None


def test_strict_names_the_command_and_gits_message(tmp_path):
    _repository(tmp_path)
    with pytest.raises(IbbenchError, match=r"^git rev-parse --verify no-such-commit: fatal: "):
        git(tmp_path, "rev-parse", "--verify", "no-such-commit", strict=True)


def test_blob_is_the_committed_bytes(tmp_path):
    commit = _repository(tmp_path)
    assert git_blob(tmp_path, commit, "crlf.txt") == b"one\r\ntwo\r\n"  # no newline translation
    with pytest.raises(IbbenchError, match="show"):
        git_blob(tmp_path, commit, "absent.txt")

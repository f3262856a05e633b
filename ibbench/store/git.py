"""Git, as the store and the reproduction layer ask it: one way to run it and to read its answer.

Provenance (a record's commit), staleness (which modules changed since a commit), the reproduce check
(which commit last wrote a file) and attestation (a worktree of an older commit) all ask git; they differ
only in what a failure means, which ``strict`` says.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(root: Path, *args: str, strict: bool = False, timeout: float = 60) -> str | None:
    """Standard output of ``git -C root ARGS`` without its trailing newline.

    Where git fails (not installed, ``root`` outside a repository, an unknown commit, a timeout): None,
    or with ``strict`` an ``IbbenchError`` naming the command and git's own message."""
    done = _run(root, args, timeout, text=True, strict=strict)
    return done.stdout.rstrip("\n") if done is not None else None


def git_blob(root: Path, commit: str, path: str) -> bytes:
    """The bytes of file ``path`` at ``commit`` (``git show``, no newline translation: hashes compare).

    Raises ``IbbenchError`` where the commit has no such file."""
    return _run(root, ("show", f"{commit}:{path}"), 60, text=False, strict=True).stdout


def _run(root: Path, args: tuple[str, ...], timeout: float, *, text: bool, strict: bool):
    command = ["git", "-C", str(root), *args]
    try:
        done = subprocess.run(command, capture_output=True, text=text, timeout=timeout)
        failure = None if done.returncode == 0 else done.stderr
    except (OSError, subprocess.TimeoutExpired) as error:
        failure = str(error)
    if failure is None:
        return done
    if strict:
        from ..errors import IbbenchError

        message = failure.decode(errors="replace") if isinstance(failure, bytes) else failure
        raise IbbenchError(f"git {' '.join(args)}: {message.strip() or 'failed'}")
    return None

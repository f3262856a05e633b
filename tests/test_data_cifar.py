"""Tests of the CIFAR-10 data layer (ibbench.data.cifar): import, verification, loading, CLI.

Offline and fast: image-folder trees and an official-format tarball are built
in tmp_path (a few images per class).  One integration test imports the real
JPEG q75 copy from ``../shared/data`` or ``$IBBENCH_TEST_DATA`` (about 8 s; skipped where absent).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torchvision.datasets import CIFAR10

from ibbench.data import CIFAR10_CLASSES, cifar10_source_description, import_cifar10, load_cifar10
from ibbench.data import cifar as cifar_mod
from ibbench.errors import DataError

from .conftest import run_cli, stderr_lines

# Per-channel means of the CIFAR-10 training set (0..255); JPEG q75 keeps them.
TRAIN_CHANNEL_MEANS = (125.3, 123.0, 113.9)


@pytest.fixture(autouse=True)
def _no_ambient_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Never read or write the user's real cache from a test.
    monkeypatch.setenv("IBBENCH_DATA", str(tmp_path / "ambient-data"))


# ------------------------------------------------------------------------ builders


def _make_tree(
    root: Path,
    ext: str = "png",
    *,
    counts: tuple[int, int] = (2, 1),
    seed: int = 0,
    classes: tuple[str, ...] = CIFAR10_CLASSES,
    size: tuple[int, int] = (32, 32),
) -> dict[str, np.ndarray]:
    """Write ROOT/{train,test}/<class>/NN.<ext> (random 8x8 blocks); return the images in load order."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for split, n in zip(("train", "test"), counts, strict=True):
        images = []
        for cls in classes:
            (root / split / cls).mkdir(parents=True)
            # Written in reverse so that sorted order differs from creation order.
            # 8x8 flat blocks: distinct images that JPEG keeps close (noise it would not).
            batch = [
                np.kron(
                    rng.integers(0, 256, size=(size[1] // 8, size[0] // 8, 3)), np.ones((8, 8, 1))
                ).astype(np.uint8)
                for _ in range(n)
            ]
            for i in reversed(range(n)):
                Image.fromarray(batch[i]).save(root / split / cls / f"{i:02d}.{ext}")
            images.extend(batch)
        out[split] = np.stack(images)
    return out


def _tar_tree(root: Path, tar: Path, *, top: str | None = None, mode: str = "w:gz") -> Path:
    """Tar the tree under ``root`` (members in reverse sorted order), optionally under ``top/``."""
    with tarfile.open(tar, mode) as tf:
        for p in sorted(root.rglob("*"), reverse=True):
            rel = p.relative_to(root).as_posix()
            tf.add(p, arcname=f"{top}/{rel}" if top else rel, recursive=False)
    return tar


def _tar_bytes(tar: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(tar, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return tar


class _Py2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes bytes as Python-2 str opcodes, as in the real batches (py3 protocol 2 would use _codecs)."""

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def _save_py2_str(self, obj: bytes) -> None:
        n = len(obj)
        head = pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)
        self.write(head + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def _py2_dumps(obj: object) -> bytes:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def _official_batches(n: int = 6, seed: int = 0) -> tuple[dict[str, bytes], dict[str, np.ndarray]]:
    """Pickled batch dicts shaped like the real (Python 2) ones; and the raw arrays."""
    rng = np.random.default_rng(seed)
    blobs: dict[str, bytes] = {}
    raw: dict[str, np.ndarray] = {}
    for name in [n for n, _ in CIFAR10.train_list + CIFAR10.test_list] + ["batches.meta"]:
        if name == "batches.meta":
            meta = {"num_cases_per_batch": n, "label_names": list(CIFAR10_CLASSES), "num_vis": 3072}
            blobs[name] = _py2_dumps(meta)
            continue
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).tolist()
        raw[name] = data
        raw[name + ":labels"] = np.array(labels)
        batch = {
            "batch_label": name,
            "labels": labels,
            "data": data,
            "filenames": [f"{i}.png" for i in range(n)],
        }
        blobs[name] = _py2_dumps(batch)
    return blobs, raw


def _official_tar(tmp_path: Path, blobs: dict[str, bytes]) -> Path:
    return _tar_bytes(
        tmp_path / "cifar-10-python.tar.gz", {f"cifar-10-batches-py/{k}": v for k, v in blobs.items()}
    )


def _accept(monkeypatch: pytest.MonkeyPatch, blobs: dict[str, bytes]) -> None:
    """Patch torchvision's md5 table of the official batches (ours is torchvision's) to accept ``blobs``."""
    md5 = {k: hashlib.md5(v).hexdigest() for k, v in blobs.items()}
    train = [f"data_batch_{i}" for i in range(1, 6)]
    monkeypatch.setattr(CIFAR10, "train_list", [[name, md5[name]] for name in train])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5["batches.meta"]})


@pytest.fixture
def official_md5(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Synthetic official batches, with the md5 table patched to accept them."""
    blobs, _ = _official_batches()
    _accept(monkeypatch, blobs)
    return blobs


@pytest.fixture
def official_tar(tmp_path: Path, official_md5: dict[str, bytes], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A synthetic cifar-10-python.tar.gz that torchvision takes for the official one (md5 patched); its
    url unreachable, so that a download attempt fails instead of fetching."""
    tar = _official_tar(tmp_path, official_md5)
    monkeypatch.setattr(CIFAR10, "tgz_md5", hashlib.md5(tar.read_bytes()).hexdigest())
    monkeypatch.setattr(CIFAR10, "url", "http://127.0.0.1:9/never-fetched.tar.gz")
    return tar


# ---------------------------------------------------------------- image-folder trees


def test_png_folder_imports_and_round_trips_exactly(tmp_path: Path) -> None:
    expected = _make_tree(tmp_path / "tree", "png")
    data_dir = import_cifar10(tmp_path / "tree", tmp_path / "data")
    assert data_dir == tmp_path / "data"
    for split, n in (("train", 2), ("test", 1)):
        x, y, source = load_cifar10(split, data_dir)
        assert x.shape == (10 * n, 32, 32, 3) and x.dtype == np.uint8
        assert y.dtype == np.int64 and y.tolist() == [c for c in range(10) for _ in range(n)]
        assert np.array_equal(x, expected[split])  # PNG is lossless, order is sorted names
        assert source == {
            "name": "cifar10",
            "lossy": False,
            "description": "CIFAR-10 (imported image folder, PNG; "
            "20 train / 10 test images, not the full 50000/10000)",
        }
    meta = _meta(tmp_path / "data")
    assert meta["counts"] == {"train": 20, "test": 10} and meta["sha256"] is None
    assert meta["origin"] == str((tmp_path / "tree").resolve())


def test_jpeg_tarball_under_one_top_folder(tmp_path: Path) -> None:
    expected = _make_tree(tmp_path / "tree", "jpg", seed=1)
    tar = _tar_tree(tmp_path / "tree", tmp_path / "cifar-jpg.tar.gz", top="cifar10")
    data_dir = import_cifar10(tar, tmp_path / "data")
    x, y, source = load_cifar10("train", data_dir)
    assert y.tolist() == [c for c in range(10) for _ in range(2)]
    assert source["lossy"] is True
    assert source["description"].startswith("CIFAR-10 (imported image folder, JPEG: lossy;")
    assert cifar10_source_description(data_dir) == source["description"]
    # Lossy, but the same images in the same order: each is nearest to its own original.
    dist = np.abs(x[:, None].astype(int) - expected["train"][None].astype(int)).mean(axis=(2, 3, 4))
    assert np.array_equal(dist.argmin(axis=1), np.arange(20)) and dist.diagonal().max() < 20
    assert not np.array_equal(x, expected["train"])
    meta = _meta(data_dir)
    assert meta["sha256"] == hashlib.sha256(tar.read_bytes()).hexdigest()


def test_plain_tar_at_top_level_and_hidden_files_ignored(tmp_path: Path) -> None:
    expected = _make_tree(tmp_path / "tree", "png", counts=(1, 1))
    (tmp_path / "tree" / "train" / "cat" / ".DS_Store").write_bytes(b"junk")
    (tmp_path / "tree" / "README.txt").write_text("next to train/ and test/: ignored")
    tar = _tar_tree(tmp_path / "tree", tmp_path / "t.tar", mode="w")
    x, _, _ = load_cifar10("test", import_cifar10(tar, tmp_path / "data"))
    assert np.array_equal(x, expected["test"])


def test_reimport_replaces_cached_arrays_and_loads_are_copies(tmp_path: Path) -> None:
    _make_tree(tmp_path / "a", "png", counts=(1, 1), seed=2)
    b = _make_tree(tmp_path / "b", "png", counts=(1, 1), seed=3)
    data_dir = import_cifar10(tmp_path / "a", tmp_path / "data")
    x1, _, _ = load_cifar10("test", data_dir)
    x1[:] = 0
    assert load_cifar10("test", data_dir)[0].any()  # a copy was modified, not the data
    import_cifar10(tmp_path / "b", data_dir)
    assert np.array_equal(load_cifar10("test", data_dir)[0], b["test"])


def _meta(data_dir: Path) -> dict:
    with np.load(data_dir / "cifar10-imported.npz") as z:
        return json.loads(str(z["meta"]))


def test_copy_imported_in_another_format_version_is_named(tmp_path: Path) -> None:
    _make_tree(tmp_path / "tree", "png", counts=(1, 1))
    data_dir = import_cifar10(tmp_path / "tree", tmp_path / "data")
    copy = data_dir / "cifar10-imported.npz"
    with np.load(copy) as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(copy, **{**arrays, "meta": json.dumps({**_meta(data_dir), "version": 99})})
    with pytest.raises(DataError, match=r"format version 99; this ibbench reads 2\); delete it and run"):
        load_cifar10("train", data_dir)


# ------------------------------------------------------------------ official batches


def test_official_tarball_imports_and_loads(
    tmp_path: Path, official_md5: dict[str, bytes], official_tar: Path
) -> None:
    _, raw = _official_batches()
    data_dir = import_cifar10(official_tar, tmp_path / "data")
    batches = data_dir / "cifar-10-batches-py"
    assert {p.name for p in batches.iterdir() if not p.name.startswith(".")} == set(official_md5)
    x, y, source = load_cifar10("train", data_dir)
    names = [f"data_batch_{i}" for i in range(1, 6)]
    assert x.shape == (30, 32, 32, 3) and y.dtype == np.int64
    assert y.tolist() == np.concatenate([raw[n + ":labels"] for n in names]).tolist()
    # Planes R, G, B of 32x32 become HWC.
    first = raw["data_batch_1"][0].reshape(3, 32, 32)
    assert np.array_equal(x[0, :, :, 0], first[0]) and np.array_equal(x[0, 5, 7], first[:, 5, 7])
    assert source == {"name": "cifar10", "lossy": False, "description": "CIFAR-10 (official python batches)"}
    # torchvision reads the same layout (its md5 table patched by the fixture).
    tv = CIFAR10(root=str(data_dir), train=False, download=False)
    xt, yt, _ = load_cifar10("test", data_dir)
    assert np.array_equal(tv.data, xt) and tv.targets == yt.tolist() and tv.classes == list(CIFAR10_CLASSES)


def test_official_tarball_left_in_the_data_dir_is_unpacked_offline(
    tmp_path: Path, official_md5: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    tar = _official_tar(data_dir, official_md5)  # data_dir/cifar-10-python.tar.gz, torchvision's name
    monkeypatch.setattr(CIFAR10, "tgz_md5", hashlib.md5(tar.read_bytes()).hexdigest())
    monkeypatch.setattr(CIFAR10, "url", "http://127.0.0.1:9/never-fetched.tar.gz")
    x, _, source = load_cifar10("test", data_dir)
    assert len(x) == 6 and source["description"] == "CIFAR-10 (official python batches)"


def test_official_batches_win_over_imported_copy(tmp_path: Path, official_tar: Path) -> None:
    _make_tree(tmp_path / "tree", "png", counts=(1, 1))
    data_dir = import_cifar10(tmp_path / "tree", tmp_path / "data")
    assert load_cifar10("test", data_dir)[2]["lossy"] is False and "PNG" in cifar10_source_description(
        data_dir
    )
    import_cifar10(official_tar, data_dir)
    x, _, source = load_cifar10("test", data_dir)
    assert source["description"] == "CIFAR-10 (official python batches)" and len(x) == 6


def test_batches_tarball_with_another_md5_is_refused_naming_the_official_md5(tmp_path: Path) -> None:
    blobs, _ = _official_batches()
    tar = _official_tar(tmp_path, blobs)  # the real md5 cannot match
    with pytest.raises(DataError) as err:
        import_cifar10(tar, tmp_path / "data")
    msg = str(err.value)
    assert (
        str(tar) in msg
        and f"official cifar-10-python.tar.gz (md5 {CIFAR10.tgz_md5})" in msg
        and "\n" not in msg
    )
    assert not (tmp_path / "data" / "cifar-10-batches-py").exists()


def test_corrupt_official_batch_is_named(tmp_path: Path, official_tar: Path) -> None:
    data_dir = import_cifar10(official_tar, tmp_path / "data")
    assert cifar10_source_description(data_dir) == "CIFAR-10 (official python batches)"
    victim = data_dir / "cifar-10-batches-py" / "test_batch"
    blob = bytearray(victim.read_bytes())
    blob[-100] ^= 0xFF
    victim.write_bytes(bytes(blob))
    with pytest.raises(
        DataError, match="missing or corrupt CIFAR-10 files in .*: test_batch; delete it"
    ) as err:
        load_cifar10("test", data_dir)
    assert str(victim.parent) in str(err.value)


# --------------------------------------------------------------------------- errors


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist") as err:
        import_cifar10(tmp_path / "nope.tar.gz", tmp_path / "data")
    assert str(tmp_path / "nope.tar.gz") in str(err.value)


def test_tree_missing_a_class(tmp_path: Path) -> None:
    _make_tree(tmp_path / "tree", classes=tuple(c for c in CIFAR10_CLASSES if c != "cat"))
    with pytest.raises(DataError, match="train/ has missing or unexpected class folders: cat;") as err:
        import_cifar10(tmp_path / "tree", tmp_path / "data")
    assert str(tmp_path / "tree") in str(err.value)
    assert not (tmp_path / "data" / "cifar10-imported.npz").exists()


def test_an_empty_folder_says_all_classes_are_missing_not_which(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="train/ has missing or unexpected class folders: all 10 missing;"):
        import_cifar10(tmp_path / "empty", tmp_path / "data")


def test_tree_with_an_extra_class(tmp_path: Path) -> None:
    _make_tree(tmp_path / "tree", classes=(*CIFAR10_CLASSES, "zebra"))
    with pytest.raises(DataError, match="missing or unexpected class folders: zebra;"):
        import_cifar10(tmp_path / "tree", tmp_path / "data")


def test_28x28_image_is_named(tmp_path: Path) -> None:
    _make_tree(tmp_path / "tree")
    bad = tmp_path / "tree" / "test" / "dog" / "00.png"
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(bad)
    with pytest.raises(DataError, match="a 28x28 PNG, expected 32x32 PNG or JPEG") as err:
        import_cifar10(tmp_path / "tree", tmp_path / "data")
    assert "test/dog/00.png" in str(err.value)


def test_undecodable_image_is_named(tmp_path: Path) -> None:
    _make_tree(tmp_path / "tree")
    (tmp_path / "tree" / "train" / "ship" / "01.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="cannot decode image .*train/ship/01.png"):
        import_cifar10(tmp_path / "tree", tmp_path / "data")


def test_truncated_tarball(tmp_path: Path) -> None:
    _make_tree(tmp_path / "tree", counts=(4, 2))
    tar = _tar_tree(tmp_path / "tree", tmp_path / "t.tar.gz")
    os.truncate(tar, tar.stat().st_size // 2)
    with pytest.raises(DataError, match="truncated tarball") as err:
        import_cifar10(tar, tmp_path / "data")
    assert str(tar) in str(err.value)


def test_not_a_tarball(tmp_path: Path) -> None:
    junk = tmp_path / "cifar.zip"
    junk.write_bytes(b"PK\x03\x04 not a tar")
    with pytest.raises(DataError, match="neither a folder nor a tar archive"):
        import_cifar10(junk, tmp_path / "data")


@pytest.mark.parametrize("name", ["../evil.png", "train/../../evil.png"])
def test_path_traversal_member_refused(tmp_path: Path, name: str) -> None:
    tar = _tar_bytes(tmp_path / "evil.tar.gz", {"train/cat/00.png": b"x", name: b"x"})
    with pytest.raises(DataError, match="unsafe member") as err:
        import_cifar10(tar, tmp_path / "data")
    assert name in str(err.value) and str(tar) in str(err.value)
    assert not (tmp_path / "evil.png").exists()


def test_absolute_member_stays_inside(tmp_path: Path) -> None:
    evil = tmp_path / "outside" / "evil.png"
    tar = _tar_bytes(tmp_path / "abs.tar.gz", {"train/cat/00.png": b"x", str(evil): b"x"})
    with pytest.raises(DataError):  # the tree is then not CIFAR-10, but nothing was written outside it
        import_cifar10(tar, tmp_path / "data")
    assert not evil.exists() and not (tmp_path / "data" / "cifar10-imported.npz").exists()


def test_symlink_member_refused(tmp_path: Path) -> None:
    tar = tmp_path / "link.tar"
    with tarfile.open(tar, "w") as tf:
        info = tarfile.TarInfo("train/cat/00.png")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(DataError, match="unsafe member 'train/cat/00.png'"):
        import_cifar10(tar, tmp_path / "data")


def test_nothing_there_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataError) as err:
        cifar10_source_description(tmp_path / "empty")  # never downloads
    assert str(err.value) == (
        f"CIFAR-10 not found in {tmp_path / 'empty'}: run `ibbench data import cifar10 PATH` with the "
        "official cifar-10-python.tar.gz or an image folder"
    )

    def offline(data_dir: Path | None = None, train: bool = True, download: bool = False) -> None:
        raise DataError("torchvision download failed (Name or service not known)")

    monkeypatch.setattr(cifar_mod, "_torchvision", offline)
    with pytest.raises(DataError, match=r"\(torchvision download failed .*\): run `ibbench data import"):
        load_cifar10("train")  # default data dir from IBBENCH_DATA, network allowed


def test_bad_split() -> None:
    with pytest.raises(DataError, match="unknown CIFAR-10 split 'valid'"):
        load_cifar10("valid")


# ------------------------------------------------------------------------------ CLI


def test_cli_import_reports_where_it_went(tmp_path: Path) -> None:
    _make_tree(tmp_path / "tree", counts=(1, 1))
    proc = run_cli(
        "data", "import", "cifar10", str(tmp_path / "tree"), "--data-dir", str(tmp_path / "d"), "--quiet"
    )
    assert proc.returncode == 0, proc.stderr
    assert str(tmp_path / "d") in proc.stdout and "(imported image folder, PNG" in proc.stdout
    assert (tmp_path / "d" / "cifar10-imported.npz").is_file()


def test_cli_bad_path_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = run_cli(
        "data", "import", "cifar10", str(tmp_path / "missing.tar.gz"), "--data-dir", str(tmp_path / "d")
    )
    assert proc.returncode == 2
    lines = stderr_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("ibbench: error: CIFAR-10 source ")
    assert str(tmp_path / "missing.tar.gz") in lines[0] and "Traceback" not in proc.stderr


# ----------------------------------------------------------------- real JPEG q75 copy


@pytest.mark.integration
def test_real_jpeg_copy(cifar_dir: Path) -> None:
    x, y, source = load_cifar10("train", cifar_dir)
    assert x.shape == (50000, 32, 32, 3) and np.bincount(y, minlength=10).tolist() == [5000] * 10
    assert source == {"name": "cifar10", "lossy": True, "description": "CIFAR-10 (JPEG q75 copy)"}
    assert np.allclose(x.reshape(-1, 3).mean(axis=0), TRAIN_CHANNEL_MEANS, atol=1.5)
    xt, yt, _ = load_cifar10("test", cifar_dir)
    assert xt.shape == (10000, 32, 32, 3) and np.bincount(yt, minlength=10).tolist() == [1000] * 10
    assert cifar10_source_description(cifar_dir) == "CIFAR-10 (JPEG q75 copy)"

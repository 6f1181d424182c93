"""nets.data: Imagenette on disk, Fashion-MNIST, the decode-once tensor cache and its disk space, batches,
the offline stand-in, subsets.

Everything runs offline on a generated Imagenette tree in torchvision's layout (tests/imagenette_fixture.py)
and generated Fashion-MNIST IDX files (tests/fashion_fixture.py); the network function is replaced by one
that fails, so a test that tried to download would say so, and Debian's Fashion-MNIST folder is pointed at
an empty one (only the slow test reads the real files).
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nets import data as nd
from nets.data import augment, cache, fashion, standin
from nets.data import imagenette as ni
from nets.files import md5 as file_md5

try:  # tests/ on sys.path (pytest's default for a folder without __init__.py)
    import fashion_fixture as ff
    from imagenette_fixture import fake_counts, make_fake_archive, make_fake_imagenette
except ImportError:  # tests/ as a package
    from tests import fashion_fixture as ff
    from tests.imagenette_fixture import fake_counts, make_fake_archive, make_fake_imagenette

PER_CLASS = (6, 3)  # train, val images per class in the fake tree (one training JPEG is corrupt)
STEM = "imagenette2-160"


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No test may reach the network or the user's cache."""

    def no_network(url, dest):
        raise AssertionError(f"a test tried to download {url}")

    monkeypatch.setattr(ni, "download_file", no_network)
    monkeypatch.setattr(fashion, "DEBIAN_DIR", tmp_path / "no-debian-package")
    monkeypatch.setenv("NETS_DATA_DIR", str(tmp_path / "default-cache"))
    monkeypatch.delenv("NETS_DATA", raising=False)
    monkeypatch.delenv("NETS_IMAGENETTE_MD5", raising=False)


@pytest.fixture(scope="module")
def pristine_tree(tmp_path_factory) -> Path:
    return make_fake_imagenette(tmp_path_factory.mktemp("pristine"), per_class=PER_CLASS, corrupt=1)


@pytest.fixture
def tree(pristine_tree, tmp_path) -> Path:
    """A private copy of the fake tree (marker included, no tensor cache yet)."""
    root = tmp_path / "root"
    shutil.copytree(pristine_tree, root)
    return root


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """A .tgz packed like upstream's (imagenette2-160/ at the top, no marker)."""
    src = make_fake_imagenette(tmp_path_factory.mktemp("src"), per_class=(3, 2), corrupt=0, marker=False)
    return make_fake_archive(src, tmp_path_factory.mktemp("upstream"))


def load_quietly(**kwargs) -> nd.Data:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nd.UnreadableImageWarning)
        return nd.load(progress=False, **kwargs)


def copying_downloader(source: Path, calls: list):
    def download(url: str, dest: Path) -> None:
        calls.append((url, dest))
        assert dest.name.startswith(f"{STEM}.tgz.") and dest.name.endswith(".part"), "not a temporary name"
        shutil.copyfile(source, dest)

    return download


# --------------------------------------------------------------------------- constants


def test_class_table_matches_torchvision():
    from torchvision.datasets import Imagenette

    assert sorted(Imagenette._WNID_TO_CLASS) == nd.IMAGENETTE_WNIDS
    assert [Imagenette._WNID_TO_CLASS[w][0] for w in nd.IMAGENETTE_WNIDS] == nd.IMAGENETTE_CLASSES
    assert nd.IMAGENETTE_CLASSES[:2] == ["tench", "English springer"]
    assert sum(nd.IMAGENETTE_COUNTS["train"].values()) == 9469
    assert sum(nd.IMAGENETTE_COUNTS["val"].values()) == 3925
    assert ni._ARCHIVES == Imagenette._ARCHIVES
    assert nd.MEAN == (0.485, 0.456, 0.406) and nd.STD == (0.229, 0.224, 0.225)


# --------------------------------------------------------------------------- the tree and the tensor cache


def test_load_reads_the_tree_through_torchvision_and_skips_the_corrupt_jpeg(tree):
    with pytest.warns(nd.UnreadableImageWarning, match=r"n01440764_1000\.JPEG"):
        d = nd.load("imagenette", root=tree, download=False, progress=False)
    train_n, val_n = PER_CLASS
    assert d.source == STEM and not d.is_standin and d.banner == "" and d.resolution == 144
    assert d.classes == nd.IMAGENETTE_CLASSES
    assert d.train.images.shape == (10 * train_n - 1, 3, 144, 144) and d.train.images.dtype == torch.uint8
    assert d.val.images.shape == (10 * val_n, 3, 144, 144)
    assert d.train.labels.dtype == torch.int64 and len(d.train) == 10 * train_n - 1
    assert d.train.labels.bincount().tolist() == [train_n - 1] + [train_n] * 9
    manifest = json.loads((tree / "tensor-cache" / f"{STEM}-train-r144.json").read_text())
    assert manifest["num_skipped"] == 1 and "n01440764_1000.JPEG" in manifest["skipped"][0]["path"]
    assert manifest["counts"] == [train_n - 1] + [train_n] * 9 and manifest["resolution"] == 144
    assert not [p for p in (tree / "tensor-cache").iterdir() if p.name.startswith(".")], "temp files left"

    # the cached pixels are the file's shorter side resized to 144 and centre-cropped (checked with torchvision)
    from torchvision.transforms import functional as TF

    path = sorted((tree / STEM / "val" / nd.IMAGENETTE_WNIDS[3]).iterdir())[1]
    with Image.open(path) as im:
        expected = np.asarray(TF.center_crop(TF.resize(im.convert("RGB"), 144), 144)).transpose(2, 0, 1)
    row = d.val.images[3 * val_n + 1].numpy()
    assert np.abs(row.astype(int) - expected.astype(int)).mean() < 2.0


def test_second_load_memory_maps_without_decoding(tree, monkeypatch):
    first = load_quietly(source="imagenette", root=tree, download=False)
    decoded = []
    monkeypatch.setattr(cache, "decode_image", lambda *a: decoded.append(a))
    second = nd.load("imagenette", root=tree, download=False, progress=False)
    assert decoded == []
    assert torch.equal(first.train.images, second.train.images)
    assert torch.equal(first.val.labels, second.val.labels)
    # writing into the tensor must never reach the cache file (copy-on-write memmap)
    second.train.images[0].fill_(7)
    third = nd.load("imagenette", root=tree, download=False, progress=False)
    assert decoded == [] and torch.equal(third.train.images[0], first.train.images[0])


def test_truncated_cache_is_rebuilt(tree):
    # cloned: the test edits the file in place, which a live memory map would see (or die of)
    first = load_quietly(source="imagenette", root=tree, download=False).val.images.clone()
    npy = tree / "tensor-cache" / f"{STEM}-val-r144.npy"
    with open(npy, "r+b") as f:
        f.truncate(npy.stat().st_size // 2)
    with pytest.warns(UserWarning, match="stale or damaged"):
        second = load_quietly(source="imagenette", root=tree, download=False)
    assert torch.equal(first, second.val.images)


def test_corrupted_cache_bytes_are_detected_by_the_content_hash(tree, monkeypatch):
    first = load_quietly(source="imagenette", root=tree, download=False).train.images.clone()
    npy = tree / "tensor-cache" / f"{STEM}-train-r144.npy"
    with open(npy, "r+b") as f:
        f.seek(npy.stat().st_size // 2)
        f.write(b"\x00\xff" * 64)
    decoded = []
    real = cache.decode_image
    monkeypatch.setattr(cache, "decode_image", lambda *a: decoded.append(a) or real(*a))
    with pytest.warns(UserWarning, match="content hash"):
        second = load_quietly(source="imagenette", root=tree, download=False)
    assert len(decoded) == 10 * PER_CLASS[0]  # every training file decoded again
    assert torch.equal(first, second.train.images)


def test_changed_source_image_rebuilds_the_cache(tree):
    first = load_quietly(source="imagenette", root=tree, download=False)
    path = sorted((tree / STEM / "val" / nd.IMAGENETTE_WNIDS[0]).iterdir())[0]
    Image.new("RGB", (213, 160), (255, 0, 0)).save(path, format="JPEG")  # same name, new content
    with pytest.warns(UserWarning, match="source images changed"):
        second = load_quietly(source="imagenette", root=tree, download=False)
    assert not torch.equal(first.val.images[0], second.val.images[0])
    assert second.val.images[0, 0].float().mean() > 240 and second.val.images[0, 1].float().mean() < 15
    assert torch.equal(first.val.images[1:], second.val.images[1:])


def test_resolution_and_subset(tree):
    d = load_quietly(source="imagenette", root=tree, download=False, resolution=32, subset=2, seed=1)
    assert d.train.images.shape == (20, 3, 32, 32) and d.resolution == 32
    assert d.train.labels.bincount().tolist() == [2] * 10 and d.val.labels.bincount().tolist() == [2] * 10
    again = load_quietly(source="imagenette", root=tree, download=False, resolution=32, subset=2, seed=1)
    other = load_quietly(source="imagenette", root=tree, download=False, resolution=32, subset=2, seed=2)
    assert torch.equal(d.train.images, again.train.images)
    assert not torch.equal(d.train.images, other.train.images)
    everything = load_quietly(source="imagenette", root=tree, download=False, resolution=32)
    # a subset's rows are rows of the full split
    full_rows = {bytes(r.numpy().tobytes()) for r in everything.train.images}
    assert all(bytes(r.numpy().tobytes()) in full_rows for r in d.train.images)
    # load(subset=) is balanced_subset of the full data: one implementation
    cut = nd.balanced_subset(everything, 2, seed=1)
    assert torch.equal(cut.train.images, d.train.images) and torch.equal(cut.val.labels, d.val.labels)


def test_balanced_subset_keeps_dataset_order_and_is_seeded():
    labels = torch.tensor([2, 0, 1, 0, 2, 2, 1, 0, 0, 2, 1, 1])
    split = nd.Split(torch.arange(12, dtype=torch.uint8).view(12, 1, 1, 1).expand(12, 3, 2, 2), labels)
    cut = nd.balanced_subset(split, 2, seed=0)
    assert isinstance(cut, nd.Split) and cut.labels.bincount().tolist() == [2, 2, 2]
    rows = cut.images[:, 0, 0, 0].long()
    assert rows.tolist() == sorted(rows.tolist()) and torch.equal(labels[rows], cut.labels)
    assert torch.equal(nd.balanced_subset(split, 2, seed=0).images, cut.images)
    seeds = {tuple(nd.balanced_subset(split, 2, seed=s).images[:, 0, 0, 0].tolist()) for s in range(5)}
    assert len(seeds) > 1
    assert nd.balanced_subset(split, 4) is split  # no class above 4: nothing to cut
    data = nd.Data(split, split, ["a", "b", "c"], "numbers", True, 2)
    both = nd.balanced_subset(data, 1, seed=3)
    assert (
        isinstance(both, nd.Data) and both.classes == data.classes and len(both.train) == len(both.val) == 3
    )
    assert torch.equal(both.train.labels, nd.balanced_subset(split, 1, seed=3).labels)
    with pytest.raises(ValueError, match="per_class"):
        nd.balanced_subset(split, 0)
    with pytest.raises(TypeError, match="Data or Split"):
        nd.balanced_subset(labels, 2)


# --------------------------------------------------------------------------- download, extraction, verification


def test_download_extract_verify_and_mark(archive, tmp_path, monkeypatch):
    monkeypatch.setenv("NETS_IMAGENETTE_MD5", file_md5(archive))  # the fake archive's own md5 is "expected"
    calls: list = []
    root = tmp_path / "cache"
    out = nd.prepare_imagenette(
        root,
        downloader=copying_downloader(archive, calls),
        expected_counts=fake_counts((3, 2)),
        progress=False,
    )
    assert out == root and len(calls) == 1
    assert (root / STEM / ni._MARKER).is_file()
    assert (root / f"{STEM}.tgz").is_file() and not list(root.glob("*.part"))
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == [], "temp folder left behind"
    marker = json.loads((root / STEM / ni._MARKER).read_text())
    assert marker["counts"] == fake_counts((3, 2)) and marker["archive_md5"] == file_md5(archive)
    # complete now: no second download, and load() reads it
    nd.prepare_imagenette(root, downloader=copying_downloader(archive, calls), progress=False)
    assert len(calls) == 1
    d = nd.load("imagenette", root=root, download=False, resolution=32, progress=False)
    assert len(d.train) == 30 and len(d.val) == 20


def test_md5_mismatch_explains_what_to_do_and_keeps_the_file(archive, tmp_path):
    calls: list = []
    root = tmp_path / "cache"
    with pytest.raises(nd.ImagenetteChecksumError) as info:
        nd.prepare_imagenette(root, downloader=copying_downloader(archive, calls), progress=False)
    message = str(info.value)
    for needle in (
        "re-uploaded",
        "NETS_IMAGENETTE_MD5=skip",
        "verify_md5=False",
        "delete",
        str(root / f"{STEM}.tgz"),
    ):
        assert needle in message
    assert ni._ARCHIVES["160px"][1] in message and file_md5(archive) in message
    assert not (root / STEM).exists(), "a tree from an unverified archive must not appear"
    # accepting the new upload reuses the downloaded file (no second download); counts are still checked
    nd.prepare_imagenette(
        root,
        downloader=copying_downloader(archive, calls),
        verify_md5=False,
        expected_counts=fake_counts((3, 2)),
        progress=False,
    )
    assert len(calls) == 1 and (root / STEM / ni._MARKER).is_file()


def test_md5_env_skip_and_bad_value(archive, tmp_path, monkeypatch):
    monkeypatch.setenv("NETS_IMAGENETTE_MD5", "skip")
    nd.prepare_imagenette(
        tmp_path / "a",
        downloader=copying_downloader(archive, []),
        expected_counts=fake_counts((3, 2)),
        progress=False,
    )
    monkeypatch.setenv("NETS_IMAGENETTE_MD5", "not-an-md5")
    with pytest.raises(ValueError, match="NETS_IMAGENETTE_MD5"):
        nd.prepare_imagenette(tmp_path / "b", downloader=copying_downloader(archive, []), progress=False)


def test_interrupted_download_leaves_nothing_and_can_be_rerun(archive, tmp_path):
    root = tmp_path / "cache"

    def dies_halfway(url, dest):
        dest.write_bytes(archive.read_bytes()[:1000])
        raise ConnectionResetError("connection reset by peer")

    with pytest.raises(nd.ImagenetteUnavailable, match="download failed") as info:
        nd.prepare_imagenette(root, downloader=dies_halfway, verify_md5=False, progress=False)
    assert "NETS_DATA=standin" in str(info.value) and ni._ARCHIVES["160px"][0] in str(info.value)
    assert not (root / f"{STEM}.tgz").exists() and not list(root.glob("*.part"))
    # a stale .part from a killed process (pid 2**22 + 1 is beyond Linux's pid_max) is removed
    (root / f"{STEM}.tgz.{2**22 + 1}.part").write_bytes(b"stale")
    nd.prepare_imagenette(
        root,
        downloader=copying_downloader(archive, []),
        verify_md5=False,
        expected_counts=fake_counts((3, 2)),
        progress=False,
    )
    assert (root / STEM / ni._MARKER).is_file() and not list(root.glob("*.part"))


def test_a_full_disk_is_said_before_download_and_before_extraction(archive, tmp_path, monkeypatch):
    import nets.files

    root = tmp_path / "cache"
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(nets.files.shutil, "disk_usage", lambda path: usage._replace(free=100 << 20))
    calls: list = []
    with pytest.raises(nd.DiskSpaceError) as info:  # 94 MiB archive + its tree do not fit in 100 MiB
        nd.prepare_imagenette(root, downloader=copying_downloader(archive, calls), progress=False)
    message = str(info.value)
    assert calls == [], "nothing is downloaded when it cannot be kept"
    assert "Imagenette 160px" in message and "188.0 MiB" in message and "NETS_DATA_DIR" in message
    # the archive is on disk already, but its tree does not fit: the archive is kept, no tree appears
    root.mkdir()
    (root / f"{STEM}.tgz").write_bytes(archive.read_bytes())
    monkeypatch.setattr(nets.files.shutil, "disk_usage", lambda path: usage._replace(free=1 << 10))
    with pytest.raises(nd.DiskSpaceError, match=f"extracting {STEM}.tgz"):
        nd.prepare_imagenette(root, verify_md5=False, download=False, progress=False)
    assert [p.name for p in root.iterdir()] == [f"{STEM}.tgz"]


def test_wrong_counts_are_rejected_and_nothing_is_left_in_place(archive, tmp_path):
    root = tmp_path / "cache"
    with pytest.raises(nd.ImagenetteUnavailable, match=r"train/n01440764: 3 images, expected 963"):
        nd.prepare_imagenette(
            root, downloader=copying_downloader(archive, []), verify_md5=False, progress=False
        )
    assert not (root / STEM).exists()
    assert [p.name for p in root.iterdir()] == [f"{STEM}.tgz"]


def test_truncated_archive_gives_a_clear_error(archive, tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    (root / f"{STEM}.tgz").write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(nd.ImagenetteUnavailable, match="truncated or damaged"):
        nd.prepare_imagenette(root, verify_md5=False, expected_counts=fake_counts((3, 2)), progress=False)
    assert not (root / STEM).exists() and not list(root.glob(".*"))


def test_archive_with_a_path_escaping_the_folder_is_refused(tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    with tarfile.open(root / f"{STEM}.tgz", "w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 3
        import io

        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(nd.ImagenetteUnavailable, match="refused to extract .*altered or is not Imagenette"):
        nd.prepare_imagenette(root, verify_md5=False, progress=False)
    assert not (tmp_path / "escaped.txt").exists()


@pytest.mark.parametrize("link", ["loop", "outside", "file", "dangling", "class"])
def test_links_in_the_tree_are_never_followed_and_the_counts_count_what_is_decoded(tree, tmp_path, link):
    cls = tree / STEM / "train" / nd.IMAGENETTE_WNIDS[2]
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    shutil.copy(next(cls.glob("*.JPEG")), foreign / "stranger.JPEG")
    target = {"loop": ".", "outside": foreign, "file": foreign / "stranger.JPEG", "dangling": tmp_path / "nothing",
              "class": foreign}[link]  # fmt: skip
    where = tree / STEM / "train" / "n99999999" if link == "class" else cls / f"{link}.JPEG"
    where.symlink_to(target)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d = nd.load("imagenette", root=tree, download=False, progress=False)
    assert any(issubclass(w.category, ni.SkippedLinkWarning) and str(where) in str(w.message) for w in caught)
    train_n, _ = PER_CLASS
    assert d.train.labels.bincount().tolist() == [train_n - 1] + [train_n] * 9  # no copies, no strangers
    classes, samples = ni.list_images(tree / STEM / "train", warn=False)
    assert len(classes) == 10 and all(not Path(p).is_symlink() for p, _ in samples)


def test_an_edited_cache_manifest_is_rebuilt_with_a_notice(tree):
    first = load_quietly(source="imagenette", root=tree, download=False).val.labels.clone()
    manifest_path = tree / "tensor-cache" / f"{STEM}-val-r144.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["counts"][0], manifest["counts"][1] = (
        manifest["counts"][0] - 1,
        manifest["counts"][1] + 1,
    )  # same total
    manifest_path.write_text(json.dumps(manifest))
    with pytest.warns(UserWarning, match="manifest does not match its hash"):
        second = load_quietly(source="imagenette", root=tree, download=False)
    assert torch.equal(first, second.val.labels)


def test_half_extracted_tree_is_never_taken_for_complete(archive, tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    with tarfile.open(archive) as tar:  # an extraction killed part way: some class folders short
        tar.extractall(root, filter="data")
    for path in sorted((root / STEM / "val").rglob("*.JPEG"))[::3]:
        path.unlink()
    with pytest.raises(nd.ImagenetteUnavailable, match="incomplete"):
        nd.prepare_imagenette(root, download=False, expected_counts=fake_counts((3, 2)))
    with pytest.raises(nd.ImagenetteUnavailable, match="incomplete"):
        nd.load("imagenette", root=root, download=False, progress=False)
    # with the archive at hand it is extracted again (no network needed), verified and marked
    shutil.copyfile(archive, root / f"{STEM}.tgz")
    nd.prepare_imagenette(
        root, download=False, verify_md5=False, expected_counts=fake_counts((3, 2)), progress=False
    )
    assert ni._count_images(root / STEM) == fake_counts((3, 2))
    assert (root / STEM / ni._MARKER).is_file()


def test_other_sizes_use_their_own_folders(tmp_path):
    root = make_fake_imagenette(tmp_path, size="full", per_class=(1, 1), corrupt=0)
    assert (root / "imagenette2" / "train" / nd.IMAGENETTE_WNIDS[0]).is_dir()
    d = nd.load("imagenette", size="full", root=root, download=False, resolution=64, progress=False)
    assert d.source == "imagenette2" and d.train.images.shape == (10, 3, 64, 64)
    with pytest.raises(nd.ImagenetteUnavailable, match="imagenette2-320"):
        nd.load("imagenette", size="320px", root=root, download=False, progress=False)


def test_files_removed_after_verification_invalidate_the_marker(tree):
    assert ni._is_verified(tree / STEM)
    next((tree / STEM / "train").rglob("*.JPEG")).unlink()
    assert not ni._is_verified(tree / STEM)


def test_unmarked_complete_tree_is_adopted(tmp_path):
    root = make_fake_imagenette(tmp_path, per_class=(2, 1), corrupt=0, marker=False)
    assert not (root / STEM / ni._MARKER).exists()
    nd.prepare_imagenette(root, download=False, expected_counts=fake_counts((2, 1)))
    assert (root / STEM / ni._MARKER).is_file()


# --------------------------------------------------------------------------- offline behaviour and sources


def test_offline_auto_falls_back_to_the_standin_with_a_banner(tmp_path, monkeypatch, capsys):
    """No Imagenette, no Fashion-MNIST (no Debian package, no network): the drawn stand-in, said once."""
    urls = []

    def unreachable(url, dest):
        urls.append(url)
        raise OSError("Network unreachable")

    monkeypatch.setattr(ni, "download_file", unreachable)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d = nd.load(root=tmp_path, resolution=16, progress=False)
    assert d.is_standin and not d.is_imagenette and d.source == "standin" and d.classes == nd.STANDIN_CLASSES
    assert "not Imagenette numbers" in d.banner and "not available offline" in d.banner
    assert "Fashion-MNIST is not on disk and could not be downloaded" in d.banner
    assert "dataset-fashion-mnist" in d.why and ni._ARCHIVES["160px"][0] in d.why  # the full story, kept
    assert [str(w.message) for w in caught] == [], "the printed banner says it: no warning on top"
    assert capsys.readouterr().out.strip() == d.banner
    assert urls[0] == ni._ARCHIVES["160px"][0] and urls[1].startswith(fashion._MIRROR)


def test_offline_without_fallback_says_how_to_get_the_data(tmp_path, monkeypatch):
    monkeypatch.setattr(
        ni, "download_file", lambda url, dest: (_ for _ in ()).throw(OSError("Network unreachable"))
    )
    for kwargs in ({"source": "auto", "fallback": False}, {"source": "imagenette", "fallback": True}):
        with pytest.raises(nd.ImagenetteUnavailable) as info:
            nd.load(root=tmp_path, resolution=16, progress=False, **kwargs)
        message = str(info.value)
        assert "Network unreachable" in message and ni._ARCHIVES["160px"][0] in message
        assert "NETS_DATA=standin" in message and str(tmp_path / f"{STEM}.tgz") in message


def test_nets_data_env_selects_the_source(tmp_path, monkeypatch, fake_fashion):
    monkeypatch.setenv("NETS_DATA", "standin")
    assert nd.load(root=tmp_path, resolution=16, progress=False).source == "standin"
    monkeypatch.setattr(fashion, "DEBIAN_DIR", fake_fashion)
    monkeypatch.setattr(fashion, "FASHION_COUNTS", ff.fake_counts(FASHION_PER_CLASS))
    monkeypatch.setenv("NETS_DATA", "Fashion-MNIST")
    assert nd.load(root=tmp_path, resolution=16, progress=False).source == "fashion-mnist"
    assert (
        nd.load("standin", root=tmp_path, resolution=16, progress=False).source == "standin"
    )  # argument wins
    monkeypatch.setenv("NETS_DATA", "imagenet")
    with pytest.raises(ValueError, match="NETS_DATA") as info:
        nd.load(root=tmp_path, resolution=16, progress=False)
    assert "'fashion-mnist'" in str(info.value)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"source": "cifar"}, "source"),
        ({"size": "224px"}, "size"),
        ({"resolution": 8}, "resolution"),
        ({"resolution": 64.0}, "resolution"),
        ({"subset": 0}, "subset"),
        ({"seed": -1}, "seed"),
    ],
)
def test_load_rejects_bad_arguments(kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        nd.load(**{"source": "standin", "root": tmp_path, **kwargs})


# --------------------------------------------------------------------------- the stand-in


def test_standin_is_deterministic_balanced_and_fast():
    start = time.perf_counter()
    images, labels = nd.standin_images(50, 64, seed=3)
    elapsed = time.perf_counter() - start
    assert images.shape == (500, 3, 64, 64) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [50] * 10
    again, _ = nd.standin_images(50, 64, seed=3)
    other, _ = nd.standin_images(50, 64, seed=4)
    val, _ = nd.standin_images(50, 64, seed=3, split="val")
    assert (
        np.array_equal(images, again)
        and not np.array_equal(images, other)
        and not np.array_equal(images, val)
    )
    assert elapsed < 10, f"500 stand-in images at 64 px took {elapsed:.1f} s"


def test_standin_classes_are_not_told_apart_by_colour():
    """The class is in the shape, not the colour: a nearest-mean-colour classifier is near chance (0.1)."""
    train, train_labels = nd.standin_images(100, 32, seed=0)
    val, val_labels = nd.standin_images(40, 32, seed=0, split="val")
    colour = lambda images: images.astype(np.float32).mean(axis=(2, 3))  # noqa: E731
    centroids = np.stack([colour(train)[train_labels == c].mean(0) for c in range(10)])
    distances = ((colour(val)[:, None, :] - centroids[None]) ** 2).sum(-1)
    accuracy = (distances.argmin(1) == val_labels).mean()
    assert accuracy < 0.2, f"mean colour alone gives {accuracy:.2f} accuracy"
    assert colour(train)[train_labels == 0].std(0).min() > 20, "images of one class should differ in colour"


def test_standin_load_is_cached_and_balanced(tmp_path, monkeypatch):
    d = nd.load("standin", root=tmp_path, resolution=16, progress=False)
    assert d.is_standin and d.resolution == 16 and d.banner.startswith("STAND-IN DATA")
    assert d.train.labels.bincount().tolist() == [nd.STANDIN_PER_CLASS["train"]] * 10
    assert d.val.labels.bincount().tolist() == [nd.STANDIN_PER_CLASS["val"]] * 10
    monkeypatch.setattr(
        standin, "standin_images", lambda *a, **k: pytest.fail("regenerated instead of cached")
    )
    again = nd.load("standin", root=tmp_path, resolution=16, progress=False)
    assert torch.equal(d.train.images, again.train.images)
    small = nd.load("standin", root=tmp_path, resolution=16, subset=5, progress=False)
    assert small.train.labels.bincount().tolist() == [5] * 10


# --------------------------------------------------------------------------- Fashion-MNIST

FASHION_PER_CLASS = (30, 10)  # train, val images per class in the fake files


@pytest.fixture(scope="module")
def fake_fashion(tmp_path_factory) -> Path:
    """The four .gz files of a small fake Fashion-MNIST (300 train / 100 val), as Debian ships them."""
    return ff.make_fake_fashion(tmp_path_factory.mktemp("fake-fashion"), per_class=FASHION_PER_CLASS)


@pytest.fixture
def fake_sizes(monkeypatch):
    """Make the fake's image counts the expected ones (the real ones are 60,000 / 10,000)."""
    monkeypatch.setattr(fashion, "FASHION_COUNTS", ff.fake_counts(FASHION_PER_CLASS))


@pytest.fixture
def debian(fake_fashion, tmp_path, monkeypatch, fake_sizes) -> Path:
    """A private copy of the fake as Debian's /usr/share/datasets/fashion-mnist (read-only, like it)."""
    folder = tmp_path / "usr-share-datasets-fashion-mnist"
    shutil.copytree(fake_fashion, folder)
    for path in folder.iterdir():
        path.chmod(0o444)
    monkeypatch.setattr(fashion, "DEBIAN_DIR", folder)
    return folder


def folder_state(folder: Path) -> dict:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def test_fashion_constants_match_torchvision_and_the_reference():
    from torchvision.datasets import FashionMNIST

    assert FashionMNIST.classes == nd.FASHION_CLASSES
    assert nd.FASHION_CLASSES[0] == "T-shirt/top" and nd.FASHION_CLASSES[-1] == "Ankle boot"
    assert nd.FASHION_COUNTS == {"train": 60000, "val": 10000}
    assert dict(FashionMNIST.resources) == fashion._MD5 and FashionMNIST.mirrors[0] == fashion._MIRROR
    assert [f"{name}.gz" for split in ("train", "val") for name in fashion._FILES[split]] == list(
        fashion._MD5
    )
    assert (
        fashion.DEBIAN_DIR.name == "no-debian-package"
    )  # the autouse fixture's: tests never read /usr/share
    assert nd.SOURCES == ("imagenette", "fashion-mnist", "standin", "auto")


def test_fashion_from_gz_files_in_torchvision_raw_layout(fake_fashion, tmp_path, fake_sizes, capsys):
    root = tmp_path / "root"
    shutil.copytree(fake_fashion, fashion.raw_folder(root))  # root/FashionMNIST/raw/*.gz, nothing else
    d = nd.load("fashion-mnist", root=root, resolution=40, progress=False)
    train_n, val_n = FASHION_PER_CLASS
    assert d.source == "fashion-mnist" and d.is_standin and not d.is_imagenette and d.resolution == 40
    assert d.classes == nd.FASHION_CLASSES
    assert d.banner.startswith("FASHION-MNIST DATA") and "not Imagenette numbers" in d.banner
    assert "upsampled to 40 px" in d.banner and capsys.readouterr().out.strip() == d.banner
    assert d.train.images.shape == (10 * train_n, 3, 40, 40) and d.train.images.dtype == torch.uint8
    assert d.val.images.shape == (10 * val_n, 3, 40, 40) and d.val.labels.dtype == torch.int64
    assert d.train.labels.bincount().tolist() == [train_n] * 10
    # labels in file order (shuffled), and each image is its own file image, upsampled, grey in all 3 channels
    for split, name in ((d.train, "train"), (d.val, "val")):
        images, labels = ff.read_fake(fake_fashion, name)
        assert split.labels.tolist() == labels.tolist()
        expected = torch.nn.functional.interpolate(
            torch.from_numpy(images)[:, None].float(), size=(40, 40), mode="bilinear", align_corners=False
        )
        rows = split.images.float()
        assert torch.equal(rows[:, 0], rows[:, 1]) and torch.equal(rows[:, 0], rows[:, 2])
        assert (rows[:, :1] - expected).abs().max() <= 1.0
    middle = d.train.images[:, 0, 20, 20].float()
    for c in range(10):  # the blob's grey says the class: images and labels were not shuffled apart
        assert abs(middle[d.train.labels == c].mean().item() - ff.brightness(c)) < 6
    # the cache keeps one grey channel (a third of RGB); no temp files anywhere
    manifest = json.loads((root / "tensor-cache" / "fashion-mnist-train-r40.json").read_text())
    assert manifest["shape"] == [10 * train_n, 1, 40, 40] and manifest["counts"] == [train_n] * 10
    raw = fashion.raw_folder(root)
    assert sorted(p.name for p in raw.iterdir() if not p.name.endswith(".gz")) == sorted(
        name for names in fashion._FILES.values() for name in names
    )
    assert not [p for p in [*raw.iterdir(), *(root / "tensor-cache").iterdir()] if p.name.startswith(".")]
    # torchvision's own class reads the same folder
    from torchvision.datasets import FashionMNIST

    assert len(FashionMNIST(str(root), train=False, download=False)) == 10 * val_n


def test_fashion_from_the_debian_folder_which_is_only_read(debian, tmp_path):
    before = folder_state(debian)
    root = tmp_path / "cache"
    d = nd.load("fashion-mnist", root=root, resolution=32, progress=False)
    assert len(d.train) == 300 and len(d.val) == 100
    assert folder_state(debian) == before, "the Debian folder must not be written"
    raw = fashion.raw_folder(root)
    assert (raw / "train-images-idx3-ubyte").stat().st_size == 16 + 300 * 784
    assert not list(raw.glob("*.gz")), "the .gz files stay in Debian's folder, not copied"
    # a subset works as for the other sources
    small = nd.load("fashion-mnist", root=root, resolution=32, subset=4, progress=False)
    assert (
        small.train.labels.bincount().tolist() == [4] * 10
        and small.val.labels.bincount().tolist() == [4] * 10
    )
    assert small.train.images.is_contiguous() and small.train.images.shape == (40, 3, 32, 32)
    # batches of the 3-channel view are ordinary RGB batches
    x, y = next(nd.batches(d.train, 32, train=True, image_size=24))
    assert x.shape == (32, 3, 24, 24) and torch.allclose(
        (x[:, 0] * nd.STD[0] + nd.MEAN[0]), (x[:, 1] * nd.STD[1] + nd.MEAN[1]), atol=1e-5
    )


def test_fashion_cache_is_reused_without_reading_or_resizing_again(debian, tmp_path, monkeypatch):
    root = tmp_path / "cache"
    first = nd.load("fashion-mnist", root=root, resolution=32, progress=False)
    raw_before = folder_state(fashion.raw_folder(root))
    monkeypatch.setattr(fashion, "upsample", lambda *a, **k: pytest.fail("resized again instead of cached"))
    monkeypatch.setattr(fashion, "_decompress", lambda *a, **k: pytest.fail("decompressed again"))
    second = nd.load("fashion-mnist", root=root, resolution=32, progress=False)
    assert torch.equal(first.train.images, second.train.images)
    assert torch.equal(first.val.labels, second.val.labels)
    assert folder_state(fashion.raw_folder(root)) == raw_before
    # another resolution is another cache (and resizes)
    monkeypatch.undo()
    monkeypatch.setattr(fashion, "FASHION_COUNTS", ff.fake_counts(FASHION_PER_CLASS))
    monkeypatch.setattr(fashion, "DEBIAN_DIR", debian)
    assert nd.load("fashion-mnist", root=root, resolution=20, progress=False).train.images.shape[-1] == 20
    # a replaced raw file (new content) rebuilds the cache
    images, labels = ff.read_fake(debian, "val")
    (fashion.raw_folder(root) / "t10k-images-idx3-ubyte").write_bytes(ff.idx_images(255 - images))
    with pytest.warns(UserWarning, match="source images changed"):
        third = nd.load("fashion-mnist", root=root, resolution=32, progress=False)
    assert ((third.val.images.int() - (255 - first.val.images.int())).abs().max()) <= 1  # rounding ties


def test_truncated_debian_file_names_it_and_the_package(debian, tmp_path, monkeypatch):
    bad = tmp_path / "broken-debian"
    shutil.copytree(debian, bad)
    gz = bad / "t10k-images-idx3-ubyte.gz"
    gz.chmod(0o644)
    gz.write_bytes(gz.read_bytes()[: gz.stat().st_size // 2])
    monkeypatch.setattr(fashion, "DEBIAN_DIR", bad)
    root = tmp_path / "cache"
    with pytest.raises(nd.FashionMNISTUnavailable) as info:
        nd.load("fashion-mnist", root=root, resolution=16, progress=False)
    message = str(info.value)
    assert str(gz) in message and "truncated or damaged" in message
    assert "apt-get install --reinstall dataset-fashion-mnist" in message
    assert info.value.short == "Fashion-MNIST file t10k-images-idx3-ubyte.gz is truncated or damaged"
    raw = fashion.raw_folder(root)
    assert not (raw / "t10k-images-idx3-ubyte").exists() and not list(raw.glob(".*")), "half-written file"


def test_truncated_gz_in_the_cache_folder_says_delete_it(fake_fashion, tmp_path, fake_sizes):
    root = tmp_path / "cache"
    raw = fashion.raw_folder(root)
    shutil.copytree(fake_fashion, raw)
    gz = raw / "train-labels-idx1-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:-12])  # the end of the stream (and its CRC) cut off
    with pytest.raises(nd.FashionMNISTUnavailable, match="Delete it and run again") as info:
        nd.load("fashion-mnist", root=root, resolution=16, progress=False)
    assert str(gz) in str(info.value)
    assert not (raw / "train-labels-idx1-ubyte").exists() and not list(raw.glob(".*"))


@pytest.mark.parametrize(
    "name, payload, match",
    [
        ("t10k-images-idx3-ubyte", lambda im, lb: ff.idx_labels(lb), "magic number is 2049, expected 2051"),
        ("t10k-images-idx3-ubyte", lambda im, lb: ff.idx_images(im[:-1]), "says 99 images, expected 100"),
        ("t10k-images-idx3-ubyte", lambda im, lb: ff.idx_images(im)[:-784], "truncated or padded"),
        (
            "t10k-images-idx3-ubyte",
            lambda im, lb: ff.idx_images(im[:, :27, :]),
            "27x28 images, expected 28x28",
        ),
        ("t10k-labels-idx1-ubyte", lambda im, lb: ff.idx_labels(lb + 1), "a label is 10"),
        ("t10k-labels-idx1-ubyte", lambda im, lb: b"\x00\x00", "shorter than the 8-byte header"),
    ],
)
def test_wrong_file_contents_are_refused_naming_the_file(name, payload, match, debian, tmp_path, monkeypatch):
    bad = tmp_path / "wrong-debian"
    shutil.copytree(debian, bad)
    images, labels = ff.read_fake(debian, "val")
    (bad / f"{name}.gz").chmod(0o644)
    (bad / f"{name}.gz").write_bytes(gzip.compress(payload(images, labels.astype(np.uint8))))
    monkeypatch.setattr(fashion, "DEBIAN_DIR", bad)
    with pytest.raises(nd.FashionMNISTUnavailable, match=match) as info:
        nd.load("fashion-mnist", root=tmp_path / "cache", resolution=16, progress=False)
    assert str(bad / f"{name}.gz") in str(info.value) and "dataset-fashion-mnist" in str(info.value)
    assert not (fashion.raw_folder(tmp_path / "cache") / name).exists()


def test_a_gz_that_decompresses_past_the_files_size_is_refused_before_the_disk_fills(
    fake_fashion, tmp_path, fake_sizes
):
    root = tmp_path / "root"
    shutil.copytree(fake_fashion, fashion.raw_folder(root))
    bomb = fashion.raw_folder(root) / "t10k-labels-idx1-ubyte.gz"
    with gzip.open(bomb, "wb") as f:  # a labels header, then far more bytes than the labels can be
        f.write(ff.idx_labels(np.zeros(10 * FASHION_PER_CLASS[1], dtype=np.uint8))[:8] + bytes(8 << 20))
    with pytest.raises(
        fashion.FashionMNISTUnavailable, match="decompresses to more than .* refused as not Fashion-MNIST"
    ):
        nd.load("fashion-mnist", root=root, progress=False, fallback=False)
    assert not [p for p in fashion.raw_folder(root).iterdir() if p.name.endswith(".tmp")]
    assert not (fashion.raw_folder(root) / "t10k-labels-idx1-ubyte").exists()


def test_a_damaged_raw_file_is_made_again_from_its_gz(debian, tmp_path):
    root = tmp_path / "cache"
    first = nd.load("fashion-mnist", root=root, resolution=16, progress=False)
    raw_file = fashion.raw_folder(root) / "train-images-idx3-ubyte"
    raw_file.write_bytes(raw_file.read_bytes()[:1000])  # e.g. a copy cut short
    with pytest.warns(UserWarning, match="source images changed"):
        second = nd.load("fashion-mnist", root=root, resolution=16, progress=False)
    assert raw_file.stat().st_size == 16 + 300 * 784 and torch.equal(first.train.images, second.train.images)


def test_auto_offline_trains_on_fashion_mnist_with_a_banner(debian, tmp_path, capsys):
    urls = []

    def unreachable(url, dest):
        urls.append(url)
        raise OSError("Network unreachable")

    ni_download, ni.download_file = ni.download_file, unreachable
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            d = nd.load(root=tmp_path / "cache", resolution=16, progress=False)
    finally:
        ni.download_file = ni_download
    assert d.source == "fashion-mnist" and d.is_standin and d.classes == nd.FASHION_CLASSES
    assert d.banner.startswith("FASHION-MNIST DATA") and "(Imagenette is not available offline)" in d.banner
    assert "Network unreachable" in d.why and [str(w.message) for w in caught] == []
    assert capsys.readouterr().out.strip() == d.banner
    assert urls == [ni._ARCHIVES["160px"][0]], "Fashion-MNIST came from disk: no download tried"


def test_auto_with_a_broken_fashion_mnist_falls_to_the_standin_saying_why(debian, tmp_path, monkeypatch):
    bad = tmp_path / "broken-debian"
    shutil.copytree(debian, bad)
    gz = bad / "train-images-idx3-ubyte.gz"
    gz.chmod(0o644)
    gz.write_bytes(gz.read_bytes()[:100])
    monkeypatch.setattr(fashion, "DEBIAN_DIR", bad)
    monkeypatch.setattr(ni, "download_file", lambda url, dest: (_ for _ in ()).throw(OSError("offline")))
    d = nd.load("auto", root=tmp_path / "cache", resolution=16, progress=False)
    assert d.source == "standin" and d.banner.startswith("STAND-IN DATA")
    assert "Fashion-MNIST file train-images-idx3-ubyte.gz is truncated or damaged" in d.banner
    assert str(gz) in d.why and "apt-get install --reinstall" in d.why
    # fallback=False and source="fashion-mnist" never substitute
    with pytest.raises(nd.ImagenetteUnavailable):
        nd.load("auto", root=tmp_path / "cache", fallback=False, progress=False)
    with pytest.raises(nd.FashionMNISTUnavailable, match="truncated"):
        nd.load("fashion-mnist", root=tmp_path / "cache", progress=False)


def test_fashion_mnist_missing_says_how_to_get_it(tmp_path):
    with pytest.raises(nd.FashionMNISTUnavailable) as info:
        nd.load("fashion-mnist", root=tmp_path, download=False, progress=False)
    message = str(info.value)
    assert "download=False" in message and "apt-get install dataset-fashion-mnist" in message
    assert fashion._MIRROR in message and str(fashion.raw_folder(tmp_path)) in message
    with pytest.raises(nd.FashionMNISTUnavailable, match="a test tried to download"):  # download=True: tried
        nd.load("fashion-mnist", root=tmp_path, progress=False)
    assert not list(fashion.raw_folder(tmp_path).iterdir()), "a failed download leaves nothing"


def test_fashion_download_is_md5_checked_and_renamed_into_place(
    fake_fashion, tmp_path, monkeypatch, fake_sizes
):
    calls = []

    def copy_from_fake(url, dest):
        calls.append(url)
        assert dest.name.endswith(f".{os.getpid()}.part"), "not a temporary name"
        shutil.copyfile(fake_fashion / url.rsplit("/", 1)[1], dest)

    monkeypatch.setattr(ni, "download_file", copy_from_fake)
    root = tmp_path / "cache"
    with pytest.raises(nd.FashionMNISTUnavailable, match="md5") as info:  # the fake is not upstream's file
        nd.load("fashion-mnist", root=root, resolution=16, progress=False)
    assert "train-images-idx3-ubyte.gz" in str(info.value) and not list(fashion.raw_folder(root).iterdir())
    monkeypatch.setattr(fashion, "_MD5", {name: file_md5(fake_fashion / name) for name in fashion._MD5})
    d = nd.load("fashion-mnist", root=root, resolution=16, progress=False)
    assert len(d.train) == 300 and len(calls) == 5
    assert [u.rsplit("/", 1)[1] for u in calls[1:]] == list(fashion._MD5)
    assert sorted(p.name for p in fashion.raw_folder(root).glob("*.gz")) == sorted(fashion._MD5)
    nd.load("fashion-mnist", root=root, resolution=16, progress=False)
    assert len(calls) == 5, "downloaded again"


@pytest.mark.slow
@pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="dataset-fashion-mnist not installed"
)
def test_the_real_fashion_mnist_from_debian(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion, "DEBIAN_DIR", Path("/usr/share/datasets/fashion-mnist"))
    start = time.perf_counter()
    d = nd.load("fashion-mnist", root=tmp_path, resolution=32, progress=False)
    print(f"Fashion-MNIST at 32 px: {time.perf_counter() - start:.1f} s")
    assert len(d.train) == 60000 and len(d.val) == 10000 and d.classes == nd.FASHION_CLASSES
    assert d.train.labels.bincount().tolist() == [6000] * 10
    assert d.val.labels.bincount().tolist() == [1000] * 10
    assert d.train.images.shape == (60000, 3, 32, 32)
    trousers = d.train.images[d.train.labels == 1][:200, 0].float().mean(0)  # tall and narrow
    assert trousers[4:28, 14].mean() > 2 * trousers[4:28, 2].mean()


# --------------------------------------------------------------------------- disk space and leftovers


def test_a_cache_is_not_started_without_the_space_for_it(tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(cache.shutil, "disk_usage", lambda path: usage._replace(free=3 << 20))
    with pytest.raises(nd.DiskSpaceError) as info:
        nd.load("standin", root=tmp_path, resolution=32, progress=False)
    message = str(info.value)
    needed = 5000 * 3 * 32 * 32
    assert str(tmp_path / "tensor-cache") in message and "3.0 MiB is free" in message
    assert cache.human_bytes(needed + 4096) in message and "NETS_DATA_DIR" in message and "root=" in message
    assert info.value.errno == errno.ENOSPC and isinstance(info.value, OSError)
    assert not list((tmp_path / "tensor-cache").iterdir()), "nothing written"
    # source="auto" does not hide it behind a substitute
    monkeypatch.setattr(ni, "download_file", lambda url, dest: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(nd.DiskSpaceError):
        nd.load(root=tmp_path, resolution=32, progress=False)


@pytest.mark.parametrize("where", ["fallocate", "fill", "manifest"])
def test_disk_full_while_writing_is_a_clear_error_and_leaves_no_temp(where, tmp_path, monkeypatch):
    full = OSError(errno.ENOSPC, "No space left on device")
    if where == "fallocate":
        monkeypatch.setattr(os, "posix_fallocate", lambda *a: (_ for _ in ()).throw(full))
    elif where == "fill":
        monkeypatch.setattr(standin, "standin_images", lambda *a, **k: (_ for _ in ()).throw(full))
    else:
        monkeypatch.setattr(cache.json, "dumps", lambda *a, **k: (_ for _ in ()).throw(full))
    with pytest.raises(nd.DiskSpaceError) as info:
        nd.load("standin", root=tmp_path, resolution=16, progress=False)
    message = str(info.value)
    assert message.startswith("disk full while writing") and "needed for standin-" in message
    assert "NETS_DATA_DIR" in message and "[Errno" not in message
    assert isinstance(info.value.__cause__, OSError) and info.value.__cause__.errno == errno.ENOSPC
    assert list((tmp_path / "tensor-cache").iterdir()) == [], "temp file (or a half cache) left behind"


def test_other_write_errors_are_not_called_a_full_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(
        standin, "standin_images", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error"))
    )
    with pytest.raises(OSError, match="I/O error") as info:
        nd.load("standin", root=tmp_path, resolution=16, progress=False)
    assert not isinstance(info.value, nd.DiskSpaceError) and not list((tmp_path / "tensor-cache").iterdir())


def test_temp_files_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    folder = tmp_path / "tensor-cache"
    folder.mkdir()
    dead = 2**22 + 1  # beyond Linux's pid_max: no such process
    alive = os.getppid()
    stale = [
        folder / f".standin-g2-seed0-train-r16.npy.{dead}.tmp",
        folder / f".fashion-mnist-train-r144.npy.{dead}.kept.tmp",
        folder / f".standin-g2-seed0-val-r16.json.{dead}.tmp",
    ]
    live = [folder / f".fashion-mnist-val-r144.npy.{alive}.tmp", folder / f".x.npy.{os.getpid()}.tmp"]
    other = [folder / "notes.tmp", folder / ".hidden"]
    for path in stale + live + other:
        path.write_bytes(b"x" * 100)
    nd.load("standin", root=tmp_path, resolution=16, progress=False)
    assert not any(p.exists() for p in stale), "a dead process's temp file was kept"
    assert all(p.exists() for p in live + other), "a live process's (or a foreign) file was removed"


@pytest.fixture
def small_tmpfs(tmp_path):
    """A real 1 MiB tmpfs (needs root and mount permission; skipped otherwise)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


_FILL_A_TINY_DISK = """
import shutil, sys
from nets.data import cache
import numpy as np

root, lie = sys.argv[1], sys.argv[2] == "lie"
if lie:  # pretend there is room, so the write itself runs into the full disk
    real = shutil.disk_usage
    cache.shutil.disk_usage = lambda p: real(p)._replace(free=1 << 40)

def fill(array):
    array[:] = 255  # every byte written through the memory map: SIGBUS on a full disk without a reservation
    return np.ones(len(array), dtype=bool), {}

try:
    cache.cached(cache.Path(root), "big", {"k": 1}, (32, 3, 128, 128), fill)  # 1.5 MiB > 1 MiB
except cache.DiskSpaceError as err:
    print("DiskSpaceError:", err)
"""


@pytest.mark.slow  # mounts a tmpfs, runs a subprocess
def test_a_real_full_disk_gives_a_message_not_sigbus(small_tmpfs):
    for mode, expected in (("honest", "not enough disk space"), ("lie", "disk full while writing")):
        result = subprocess.run(
            [sys.executable, "-c", _FILL_A_TINY_DISK, str(small_tmpfs), mode],
            capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1],
        )  # fmt: skip
        assert result.returncode == 0, (
            f"{mode}: exit {result.returncode} (-7 is SIGBUS): {result.stderr[-1000:]}"
        )
        assert f"DiskSpaceError: {expected}" in result.stdout and str(small_tmpfs) in result.stdout
        left = [p.name for p in small_tmpfs.rglob("*") if p.is_file()]
        assert left == [], f"{mode}: left {left} on the full disk"
        assert shutil.disk_usage(small_tmpfs).used < 64 << 10


# --------------------------------------------------------------------------- batches


def numbered_split(n: int = 40, side: int = 24) -> nd.Split:
    """Each image is a different random picture; the label is the image's index (so y says which rows came)."""
    g = torch.Generator().manual_seed(0)
    return nd.Split(
        torch.randint(0, 256, (n, 3, side, side), dtype=torch.uint8, generator=g), torch.arange(n)
    )


def test_batches_shapes_dtype_and_counts():
    split = numbered_split(40)
    train = list(nd.batches(split, 16, train=True, image_size=20, seed=0))
    assert len(train) == nd.num_batches(split, 16, train=True) == 2  # drop_last
    for x, y in train:
        assert x.shape == (16, 3, 20, 20) and x.dtype == torch.float32 and y.dtype == torch.int64
    val = list(nd.batches(split, 16, train=False, image_size=20))
    assert len(val) == nd.num_batches(split, 16, train=False) == 3 and val[-1][0].shape == (8, 3, 20, 20)
    assert torch.cat([y for _, y in val]).tolist() == list(range(40))  # dataset order, nothing dropped
    x, _ = next(nd.batches(split, 8, train=True, image_size=16, channels_last=True))
    assert x.is_contiguous(memory_format=torch.channels_last)


def test_normalisation_uses_imagenet_statistics():
    value = torch.tensor([200, 100, 30], dtype=torch.uint8).view(1, 3, 1, 1).expand(4, 3, 32, 32).contiguous()
    split = nd.Split(value, torch.zeros(4, dtype=torch.int64))
    for train in (False, True):
        x, _ = next(nd.batches(split, 4, train=train, image_size=16))
        expected = (torch.tensor([200, 100, 30]) / 255 - torch.tensor(nd.MEAN)) / torch.tensor(nd.STD)
        assert torch.allclose(x.mean(dim=(0, 2, 3)), expected, atol=1e-5)
        assert x.std(dim=(0, 2, 3)).max() < 1e-5


def test_train_order_is_a_permutation_per_epoch_and_seeded():
    split = numbered_split(48)

    def epoch_labels(seed, epoch):
        return torch.cat(
            [y for _, y in nd.batches(split, 16, train=True, image_size=16, seed=seed, epoch=epoch)]
        )

    e0 = epoch_labels(0, 0)
    assert sorted(e0.tolist()) == list(range(48))
    assert torch.equal(e0, epoch_labels(0, 0))
    assert not torch.equal(e0, epoch_labels(0, 1)) and not torch.equal(e0, epoch_labels(1, 0))
    x0 = next(nd.batches(split, 16, train=True, image_size=16, seed=0))[0]
    assert torch.equal(x0, next(nd.batches(split, 16, train=True, image_size=16, seed=0))[0])


@pytest.mark.parametrize("train", [True, False])
def test_rank_slices_put_together_equal_the_single_process_batch(train):
    split = numbered_split(44)
    kwargs = {"train": train, "image_size": 20, "seed": 5, "epoch": 2}
    single = list(nd.batches(split, 16, **kwargs))
    ranks = [list(nd.batches(split, 16, rank=r, world_size=4, **kwargs)) for r in range(4)]
    assert all(len(r) == len(single) for r in ranks)
    for step, (x, y) in enumerate(single):
        assert torch.equal(torch.cat([ranks[r][step][0] for r in range(4)]), x)
        assert torch.equal(torch.cat([ranks[r][step][1] for r in range(4)]), y)
        assert all(ranks[r][step][0].shape[0] == min(4, max(0, len(y) - 4 * r)) for r in range(4))


def test_crop_resize_identity_and_flip():
    x = torch.rand(2, 3, 12, 12)
    ones, zeros = torch.ones(2), torch.zeros(2)
    assert torch.allclose(nd.crop_resize(x, ones, ones, zeros, zeros, 12), x, atol=1e-5)
    assert torch.allclose(nd.crop_resize(x, -ones, ones, zeros, zeros, 12), x.flip(-1), atol=1e-5)
    # the left half of the image, blown up 2x: column 0 of the output samples the image's first column
    half = nd.crop_resize(x, ones / 2, ones, -ones / 2, zeros, 12)
    assert torch.allclose(half[..., ::2].mean(), x[..., :6].mean(), atol=0.05)


def test_crop_resize_matches_torchvision_resized_crop():
    from torchvision.transforms import functional as TF

    x = torch.rand(1, 3, 32, 32)
    # box: columns 4..20, rows 8..32 of the image (w = 16/32, h = 24/32, centre (12, 20) -> (-0.25, 0.25))
    ours = nd.crop_resize(
        x, torch.tensor([0.5]), torch.tensor([0.75]), torch.tensor([-0.25]), torch.tensor([0.25]), 32
    )
    theirs = TF.resized_crop(x, top=8, left=4, height=24, width=16, size=[32, 32], antialias=False)
    # equal inside; on the outermost pixels torchvision (which cuts first) clamps to the box's edge,
    # where sampling the whole image blends in the true neighbour
    assert torch.allclose(ours[..., 1:-1, 1:-1], theirs[..., 1:-1, 1:-1], atol=1e-4)


def test_validation_batches_are_the_central_crop_resized():
    from torchvision.transforms import functional as TF

    split = numbered_split(6, side=64)
    x, y = next(nd.batches(split, 6, train=False, image_size=56))
    reference = TF.resize(
        TF.center_crop(split.images.float(), 56), [56, 56], antialias=True
    )  # 0.875 * 64 = 56
    reference = (reference / 255 - torch.tensor(nd.MEAN).view(1, 3, 1, 1)) / torch.tensor(nd.STD).view(
        1, 3, 1, 1
    )
    assert torch.allclose(x, reference, atol=1e-4) and y.tolist() == list(range(6))


def test_raw_batches_are_the_uint8_rows_batches_augments():
    split = numbered_split(40)
    for rank in range(2):
        raw = list(nd.raw_batches(split, 16, train=True, seed=3, epoch=1, rank=rank, world_size=2))
        augmented = list(
            nd.batches(split, 16, train=True, image_size=16, seed=3, epoch=1, rank=rank, world_size=2)
        )
        assert len(raw) == len(augmented) == 2
        for (x8, y8), (_, y) in zip(raw, augmented, strict=True):
            assert x8.dtype == torch.uint8 and x8.shape == (8, 3, 24, 24)
            assert torch.equal(y8, y) and torch.equal(x8, split.images[y8])


def test_random_crops_follow_the_scale_and_ratio_ranges():
    w, h, cx, cy, flip = augment._draw_crops(4000, seed=0, epoch=0, step=0)
    area, ratio = w * h, w / h
    assert area.min() >= 0.35 - 1e-6 and area.max() <= 1 + 1e-6
    assert ratio.min() >= 3 / 4 - 1e-6 and ratio.max() <= 4 / 3 + 1e-6
    assert ((cx - w).min() >= -1 - 1e-6) and ((cx + w).max() <= 1 + 1e-6)  # boxes inside the image
    assert ((cy - h).min() >= -1 - 1e-6) and ((cy + h).max() <= 1 + 1e-6)
    assert 0.45 < flip.float().mean() < 0.55
    assert area.std() > 0.1  # really random


def test_shift_moves_whole_image_crops_and_mirrors_what_lies_outside():
    plain = augment._draw_crops(500, seed=0, epoch=0, step=0, crop_scale=(1.0, 1.0))
    moved = augment._draw_crops(500, seed=0, epoch=0, step=0, crop_scale=(1.0, 1.0), shift=0.125)
    assert torch.equal(plain[0], moved[0]) and torch.equal(plain[4], moved[4])  # sizes, flips: as before
    assert (plain[0] == 1).all() and (plain[2] == 0).all()  # no shift: the whole image
    w, h, cx, cy, _ = moved
    for c in (cx, cy):  # up to 1/8 of the side each way: 0.25 in [-1, 1] coordinates
        assert c.abs().max() <= 0.25 + 1e-6 and c.abs().max() > 0.24 and c.std() > 0.1
    # a shift of 2 px of 16: columns move by exactly 2, and the two beyond the edge are its mirror image
    x = torch.arange(16.0).repeat(1, 3, 16, 1)
    one = torch.ones(1)
    out = augment.crop_resize(x, one, one, torch.tensor([0.25]), torch.zeros(1), 16)
    assert torch.equal(out[..., :14], x[..., 2:]) and out[0, 0, 0, 14:].tolist() == [15.0, 14.0]
    # through batches(): seeded, and shift=0 is the old stream exactly
    split = nd.Split(torch.randint(0, 256, (32, 3, 24, 24), dtype=torch.uint8), torch.arange(32) % 4)
    kw = dict(train=True, image_size=16, seed=3, crop_scale=(1.0, 1.0))
    a, b = (next(nd.batches(split, 8, shift=0.125, **kw))[0] for _ in range(2))
    assert torch.equal(a, b) and not torch.equal(a, next(nd.batches(split, 8, **kw))[0])
    with pytest.raises(ValueError, match="shift"):
        next(nd.batches(split, 8, shift=0.7, **kw))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 16, "world_size": 3}, "divisible"),
        ({"rank": 2, "world_size": 2}, "rank"),
        ({"image_size": 0}, "image_size"),
        ({"seed": -3}, "seed"),
        ({"epoch": 1.5}, "epoch"),
        ({"batch_size": 64}, "fewer than one training batch"),
    ],
)
def test_batches_reject_bad_arguments(kwargs, match):
    args = {"batch_size": 8, "train": True, "image_size": 16, **kwargs}
    with pytest.raises(ValueError, match=match):
        nd.batches(numbered_split(40), **args)


def test_batches_reject_a_float_split():
    with pytest.raises(ValueError, match="uint8"):
        nd.batches(
            nd.Split(torch.rand(4, 3, 8, 8), torch.zeros(4, dtype=torch.int64)), 2, train=False, image_size=8
        )


# --------------------------------------------------------------------------- learnability (slow)


@pytest.mark.slow
def test_a_small_cnn_learns_the_standin_well_above_chance(tmp_path):
    """Two epochs of a 3-conv CNN at 32 px (about a CPU minute): several times chance, far from solved."""
    torch.manual_seed(0)
    d = nd.load("standin", root=tmp_path, resolution=32, progress=False)
    layers, c_in = [], 3
    for c_out in (16, 32, 64):
        layers += [torch.nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), torch.nn.BatchNorm2d(c_out)]
        layers += [torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
        c_in = c_out
    model = torch.nn.Sequential(
        *layers, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(64, 10)
    )
    epochs, steps = 2, nd.num_batches(d.train, 64, train=True)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    decay = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1 - step / (epochs * steps))
    cpu = time.process_time()
    for epoch in range(epochs):
        for x, y in nd.batches(d.train, 64, train=True, image_size=32, epoch=epoch):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            decay.step()
    model.eval()
    with torch.no_grad():
        batches = nd.batches(d.val, 250, train=False, image_size=32)
        correct = sum((model(x).argmax(1) == y).sum().item() for x, y in batches)
    accuracy = correct / len(d.val)
    print(f"stand-in val accuracy {accuracy:.3f} after {time.process_time() - cpu:.0f} CPU s")
    assert 0.25 < accuracy < 0.95  # chance is 0.1; a stand-in solved in two epochs would be too easy

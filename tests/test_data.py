"""nets.data: Imagenette on disk, the decode-once tensor cache, batches, the offline stand-in.

Everything runs offline on a generated Imagenette tree in torchvision's layout (tests/imagenette_fixture.py);
the network function is replaced by one that fails, so a test that tried to download would say so.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nets import data as nd

try:  # tests/ on sys.path (pytest's default for a folder without __init__.py)
    from imagenette_fixture import fake_counts, make_fake_archive, make_fake_imagenette
except ImportError:  # tests/ as a package
    from tests.imagenette_fixture import fake_counts, make_fake_archive, make_fake_imagenette

PER_CLASS = (6, 3)  # train, val images per class in the fake tree (one training JPEG is corrupt)
STEM = "imagenette2-160"


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No test may reach the network or the user's cache."""

    def no_network(url, dest):
        raise AssertionError(f"a test tried to download {url}")

    monkeypatch.setattr(nd, "download_file", no_network)
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
    assert nd._ARCHIVES == Imagenette._ARCHIVES
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
    monkeypatch.setattr(nd, "_decode_image", lambda *a: decoded.append(a))
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
    real = nd._decode_image
    monkeypatch.setattr(nd, "_decode_image", lambda *a: decoded.append(a) or real(*a))
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


# --------------------------------------------------------------------------- download, extraction, verification


def test_download_extract_verify_and_mark(archive, tmp_path, monkeypatch):
    monkeypatch.setenv("NETS_IMAGENETTE_MD5", nd._md5(archive))  # the fake archive's own md5 is "expected"
    calls: list = []
    root = tmp_path / "cache"
    out = nd.prepare_imagenette(
        root,
        downloader=copying_downloader(archive, calls),
        expected_counts=fake_counts((3, 2)),
        progress=False,
    )
    assert out == root and len(calls) == 1
    assert (root / STEM / nd._MARKER).is_file()
    assert (root / f"{STEM}.tgz").is_file() and not list(root.glob("*.part"))
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == [], "temp folder left behind"
    marker = json.loads((root / STEM / nd._MARKER).read_text())
    assert marker["counts"] == fake_counts((3, 2)) and marker["archive_md5"] == nd._md5(archive)
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
    assert nd._ARCHIVES["160px"][1] in message and nd._md5(archive) in message
    assert not (root / STEM).exists(), "a tree from an unverified archive must not appear"
    # accepting the new upload reuses the downloaded file (no second download); counts are still checked
    nd.prepare_imagenette(
        root,
        downloader=copying_downloader(archive, calls),
        verify_md5=False,
        expected_counts=fake_counts((3, 2)),
        progress=False,
    )
    assert len(calls) == 1 and (root / STEM / nd._MARKER).is_file()


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
    assert "NETS_DATA=standin" in str(info.value) and nd._ARCHIVES["160px"][0] in str(info.value)
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
    assert (root / STEM / nd._MARKER).is_file() and not list(root.glob("*.part"))


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
    with pytest.raises(nd.ImagenetteUnavailable):
        nd.prepare_imagenette(root, verify_md5=False, progress=False)
    assert not (tmp_path / "escaped.txt").exists()


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
    assert nd._count_images(root / STEM) == fake_counts((3, 2))
    assert (root / STEM / nd._MARKER).is_file()


def test_other_sizes_use_their_own_folders(tmp_path):
    root = make_fake_imagenette(tmp_path, size="full", per_class=(1, 1), corrupt=0)
    assert (root / "imagenette2" / "train" / nd.IMAGENETTE_WNIDS[0]).is_dir()
    d = nd.load("imagenette", size="full", root=root, download=False, resolution=64, progress=False)
    assert d.source == "imagenette2" and d.train.images.shape == (10, 3, 64, 64)
    with pytest.raises(nd.ImagenetteUnavailable, match="imagenette2-320"):
        nd.load("imagenette", size="320px", root=root, download=False, progress=False)


def test_files_removed_after_verification_invalidate_the_marker(tree):
    assert nd._is_verified(tree / STEM)
    next((tree / STEM / "train").rglob("*.JPEG")).unlink()
    assert not nd._is_verified(tree / STEM)


def test_unmarked_complete_tree_is_adopted(tmp_path):
    root = make_fake_imagenette(tmp_path, per_class=(2, 1), corrupt=0, marker=False)
    assert not (root / STEM / nd._MARKER).exists()
    nd.prepare_imagenette(root, download=False, expected_counts=fake_counts((2, 1)))
    assert (root / STEM / nd._MARKER).is_file()


# --------------------------------------------------------------------------- offline behaviour and sources


def test_offline_auto_falls_back_to_the_standin_with_a_banner(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        nd, "download_file", lambda url, dest: (_ for _ in ()).throw(OSError("Network unreachable"))
    )
    with pytest.warns(UserWarning, match="STAND-IN"):
        d = nd.load(root=tmp_path, resolution=16, progress=False)
    assert d.is_standin and d.source == "standin" and d.classes == nd.STANDIN_CLASSES
    assert "not Imagenette numbers" in d.banner and "not available offline" in d.banner
    assert "STAND-IN" in capsys.readouterr().out


def test_offline_without_fallback_says_how_to_get_the_data(tmp_path, monkeypatch):
    monkeypatch.setattr(
        nd, "download_file", lambda url, dest: (_ for _ in ()).throw(OSError("Network unreachable"))
    )
    for kwargs in ({"source": "auto", "fallback": False}, {"source": "imagenette", "fallback": True}):
        with pytest.raises(nd.ImagenetteUnavailable) as info:
            nd.load(root=tmp_path, resolution=16, progress=False, **kwargs)
        message = str(info.value)
        assert "Network unreachable" in message and nd._ARCHIVES["160px"][0] in message
        assert "NETS_DATA=standin" in message and str(tmp_path / f"{STEM}.tgz") in message


def test_nets_data_env_selects_the_source(tmp_path, monkeypatch):
    monkeypatch.setenv("NETS_DATA", "standin")
    assert nd.load(root=tmp_path, resolution=16, progress=False).is_standin
    monkeypatch.setenv("NETS_DATA", "imagenet")
    with pytest.raises(ValueError, match="NETS_DATA"):
        nd.load(root=tmp_path, resolution=16, progress=False)


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
    monkeypatch.setattr(nd, "standin_images", lambda *a, **k: pytest.fail("regenerated instead of cached"))
    again = nd.load("standin", root=tmp_path, resolution=16, progress=False)
    assert torch.equal(d.train.images, again.train.images)
    small = nd.load("standin", root=tmp_path, resolution=16, subset=5, progress=False)
    assert small.train.labels.bincount().tolist() == [5] * 10


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
    w, h, cx, cy, flip = nd._draw_crops(4000, seed=0, epoch=0, step=0)
    area, ratio = w * h, w / h
    assert area.min() >= 0.35 - 1e-6 and area.max() <= 1 + 1e-6
    assert ratio.min() >= 3 / 4 - 1e-6 and ratio.max() <= 4 / 3 + 1e-6
    assert ((cx - w).min() >= -1 - 1e-6) and ((cx + w).max() <= 1 + 1e-6)  # boxes inside the image
    assert ((cy - h).min() >= -1 - 1e-6) and ((cy + h).max() <= 1 + 1e-6)
    assert 0.45 < flip.float().mean() < 0.55
    assert area.std() > 0.1  # really random


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

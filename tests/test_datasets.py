"""ferrotorch.datasets: the IDX reader, MNIST/FashionMNIST from tiny IDX files written here, the bundled digits."""

import gzip
import struct

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch.datasets import MNIST, Digits, FashionMNIST, load_digits, mnist, read_idx
from ferrotorch.utils.data import DataLoader


def idx_bytes(array, code):
    """An IDX file by hand: two zero bytes, the type code, the number of dims, big-endian dims, big-endian data."""
    big = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    return header + np.ascontiguousarray(array, dtype=big).tobytes()


def write_mnist(root, folder="MNIST", n_train=5, n_test=3, gz=False):
    """Tiny MNIST-format files: image k of a split is filled with the value k*10 + (0 train / 1 test)."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    for prefix, n, tag in (("train", n_train, 0), ("t10k", n_test, 1)):
        images = np.stack([np.full((4, 3), k * 10 + tag, dtype=np.uint8) for k in range(n)])
        labels = (np.arange(n) * 3 + tag) % 10
        for name, data in (
            (f"{prefix}-images-idx3-ubyte", idx_bytes(images, 0x08)),
            (f"{prefix}-labels-idx1-ubyte", idx_bytes(labels.astype(np.uint8), 0x08)),
        ):
            if gz:
                (raw / (name + ".gz")).write_bytes(gzip.compress(data))
            else:
                (raw / name).write_bytes(data)


# ---------------------------------------------------------------------------- IDX


@pytest.mark.parametrize(
    ("code", "dtype"),
    [
        (0x08, np.uint8),
        (0x09, np.int8),
        (0x0B, np.int16),
        (0x0C, np.int32),
        (0x0D, np.float32),
        (0x0E, np.float64),
    ],
)
def test_read_idx_all_types(tmp_path, code, dtype):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == np.uint8:
        a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    p = tmp_path / "a.idx"
    p.write_bytes(idx_bytes(a, code))
    out = read_idx(p)
    assert out.dtype == dtype and out.dtype.isnative and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, a)
    out[0, 0, 0] = 1  # a writable copy


def test_read_idx_gzip_by_content(tmp_path):
    a = np.array([1, 2, 300], dtype=np.int32)
    p = tmp_path / "labels.bin"  # no .gz suffix: detected by the gzip magic
    p.write_bytes(gzip.compress(idx_bytes(a, 0x0C)))
    np.testing.assert_array_equal(read_idx(p), a)


def test_read_idx_rejects_bad_files(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"\x01\x02\x08\x01" + struct.pack(">i", 1) + b"\x00")
    with pytest.raises(ValueError, match="is not an IDX file"):
        read_idx(p)
    p.write_bytes(b"\x00\x00\x07\x01" + struct.pack(">i", 1) + b"\x00")
    with pytest.raises(ValueError, match="unknown IDX type code 0x07"):
        read_idx(p)
    p.write_bytes(idx_bytes(np.zeros((2, 2), np.uint8), 0x08)[:-1])
    with pytest.raises(ValueError, match=r"shape \(2, 2\) \(4 bytes of data\) but the file holds 3"):
        read_idx(p)


# ---------------------------------------------------------------------------- MNIST


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_train_and_test_splits(tmp_path, gz):
    write_mnist(tmp_path, gz=gz)
    train = MNIST(str(tmp_path), train=True)
    test = MNIST(tmp_path, train=False)
    assert len(train) == 5 and len(test) == 3
    img, label = train[2]
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.shape == (4, 3)
    assert (img == 20).all() and label == 6 and isinstance(label, int)
    img, label = test[1]
    assert (img == 11).all() and label == 4
    assert train.data.dtype == torch.uint8 and tuple(train.data.shape) == (5, 4, 3)
    assert train.targets.dtype == torch.int64 and train.targets.tolist() == [0, 3, 6, 9, 2]
    assert train.classes[3] == "3 - three" and train.class_to_idx["9 - nine"] == 9
    assert repr(test).splitlines()[:2] == ["Dataset MNIST", "    Number of datapoints: 3"]
    assert "Split: Test" in repr(test)


def test_mnist_item_is_a_copy(tmp_path):
    write_mnist(tmp_path)
    ds = MNIST(tmp_path)
    img, _ = ds[1]
    img[:] = 0
    assert (ds[1][0] == 10).all()


def test_mnist_transforms_and_dataloader_as_in_the_tutorial(tmp_path):
    write_mnist(tmp_path, n_train=7)

    def data_tf(x):  # seed 001's transform, unchanged
        x = np.array(x, dtype="float32") / 255
        x = (x - 0.5) / 0.5
        x = x.reshape((-1,))
        return torch.from_numpy(x)

    train_set = mnist.MNIST(str(tmp_path), train=True, transform=data_tf, target_transform=lambda y: y + 100)
    loader = DataLoader(train_set, batch_size=4, shuffle=True)
    a, a_label = next(iter(loader))
    assert tuple(a.shape) == (4, 12) and a.dtype == torch.float32 and a_label.dtype == torch.int64
    all_labels = sorted(label for _, y in loader for label in y.tolist())
    assert all_labels == sorted(100 + (k * 3) % 10 for k in range(7))
    img, label = train_set[1]
    np.testing.assert_allclose(img.numpy(), np.full(12, (10 / 255 - 0.5) / 0.5, dtype=np.float32))
    assert label == 103


def test_mnist_missing_files(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found. You can use download=True to download it"):
        MNIST(tmp_path)
    write_mnist(tmp_path)
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(RuntimeError, match="Dataset not found"):
        MNIST(tmp_path, train=True)  # one split missing is a broken folder, as in torchvision


def test_mnist_download_skips_when_files_exist(tmp_path, monkeypatch):
    write_mnist(tmp_path)

    def no_network(*args, **kwargs):
        raise AssertionError("download attempted although the files are there")

    monkeypatch.setattr("ferrotorch.datasets.mnist.download_url", no_network)
    assert len(MNIST(tmp_path, download=True)) == 5


def test_mnist_download_failure_is_clear(tmp_path, monkeypatch):
    calls = []

    def offline(url, path, md5=None):
        calls.append(url)
        raise OSError("network unreachable")

    monkeypatch.setattr("ferrotorch.datasets.mnist.download_url", offline)
    with pytest.raises(
        RuntimeError, match=r"(?s)Error downloading train-images-idx3-ubyte.gz.*network unreachable"
    ):
        MNIST(tmp_path, download=True)
    assert calls == [m + "train-images-idx3-ubyte.gz" for m in MNIST.mirrors]


def test_mnist_download_unpacks_what_it_fetched(tmp_path, monkeypatch):
    source = tmp_path / "source"
    write_mnist(source, gz=True)

    def fake_download(url, path, md5=None):
        name = url.rsplit("/", 1)[1]
        data = (source / "MNIST" / "raw" / name).read_bytes()
        with open(path, "wb") as f:
            f.write(data)

    monkeypatch.setattr("ferrotorch.datasets.mnist.download_url", fake_download)
    ds = MNIST(tmp_path / "dst", download=True, train=False)
    assert len(ds) == 3 and (tmp_path / "dst" / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file()


def test_mnist_rejects_wrong_contents(tmp_path):
    write_mnist(tmp_path)
    raw = tmp_path / "MNIST" / "raw"
    (raw / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(4, np.uint8), 0x08))
    with pytest.raises(RuntimeError, match=r"expected 5 labels in one dimension, got shape \(4,\)"):
        MNIST(tmp_path)


def test_fashion_mnist_uses_its_own_folder(tmp_path):
    write_mnist(tmp_path, folder="FashionMNIST")
    ds = FashionMNIST(tmp_path, train=False)
    assert len(ds) == 3 and ds.raw_folder.endswith("FashionMNIST/raw")
    assert ds.classes[9] == "Ankle boot"
    with pytest.raises(RuntimeError, match="Dataset not found"):
        MNIST(tmp_path)


# ---------------------------------------------------------------------------- bundled digits


def test_load_digits_matches_the_published_dataset():
    images, labels = load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert images.min() == 0 and images.max() == 16
    # class sizes of the UCI digits test set, as scikit-learn's documentation lists them
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    # the first image is a 0: its first row is 0 0 5 13 9 1 0 0
    assert labels[0] == 0 and images[0, 0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    images[0, 0, 0] = 99
    assert load_digits()[0][0, 0, 0] == 0  # callers get copies


def test_digits_split_is_fixed_disjoint_and_complete():
    train, test = Digits(train=True), Digits(train=False)
    assert len(train) == 1437 and len(test) == 360
    all_images, all_labels = load_digits()
    everything = sorted(bytes(x) + bytes([y]) for x, y in zip(all_images.reshape(1797, -1), all_labels))
    seen = [
        bytes(img.reshape(-1)) + bytes([y])
        for ds in (train, test)
        for img, y in (ds[i] for i in range(len(ds)))
    ]
    assert sorted(seen) == everything  # together the two splits are the whole set, each sample once
    assert Digits(train=False).targets.tolist() == test.targets.tolist()  # deterministic
    counts = np.bincount(test.targets.numpy()).tolist()
    assert len(counts) == 10 and min(counts) >= 20  # every class is in the test split


def test_digits_items_and_transforms():
    ds = Digits(transform=lambda img: torch.from_numpy(img).float().div(16).flatten(), target_transform=str)
    x, y = ds[0]
    assert (
        tuple(x.shape) == (64,)
        and x.dtype == torch.float32
        and 0.0 <= x.min().item() <= x.max().item() <= 1.0
    )
    assert isinstance(y, str) and y == str(Digits().targets[0].item())
    assert Digits().data.dtype == torch.uint8 and tuple(Digits().data.shape) == (1437, 8, 8)
    batch_x, batch_y = next(iter(DataLoader(Digits(), batch_size=32)))
    assert (
        tuple(batch_x.shape) == (32, 8, 8) and batch_x.dtype == torch.uint8 and batch_y.dtype == torch.int64
    )

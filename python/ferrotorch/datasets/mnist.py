"""MNIST and Fashion-MNIST from their IDX files, with torchvision's folder layout and signature."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

import ferrotorch
from ferrotorch.utils.data import Dataset

from ._idx import read_idx
from .utils import download_url, extract_gzip

__all__ = ["MNIST", "FashionMNIST"]


class MNIST(Dataset[tuple[Any, Any]]):
    """The MNIST handwritten digits (60,000 training and 10,000 test images, 28x28, grey).

    Reads ``root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (or the same names with ``.gz``),
    the layout torchvision uses, so a folder torchvision downloaded works as it is.

    Args:
        root: the folder holding ``MNIST/raw/``.
        train: the training set (``True``) or the test set.
        transform: applied to each image, a ``uint8`` numpy array of shape ``(28, 28)``
            (what ``np.array(pil_image)`` gives under torchvision).
        target_transform: applied to each label (an ``int``).
        download: fetch the files that are missing (from the mirrors, checksums checked).

    ``data`` (uint8 tensor ``N x 28 x 28``) and ``targets`` (int64 tensor ``N``) hold the whole split.
    """

    mirrors: ClassVar[list[str]] = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]
    resources: ClassVar[list[tuple[str, str]]] = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes: ClassVar[list[str]] = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ]

    def __init__(
        self,
        root: str | os.PathLike[str],
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        download: bool = False,
    ) -> None:
        self.root = os.path.expanduser(os.fspath(root))
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        if download:
            self.download()
        if not self._check_exists():
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        prefix = "train" if self.train else "t10k"
        images = read_idx(self._find(f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(self._find(f"{prefix}-labels-idx1-ubyte"))
        if images.dtype != np.uint8 or images.ndim != 3:
            raise RuntimeError(
                f"expected uint8 images of 3 dimensions, got {images.dtype} of shape {images.shape}"
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise RuntimeError(f"expected {len(images)} labels in one dimension, got shape {labels.shape}")
        self._images = images
        self._labels = labels.astype(np.int64)

    @property
    def raw_folder(self) -> str:
        """``root/<ClassName>/raw``, where the IDX files live."""
        return os.path.join(self.root, self.__class__.__name__, "raw")

    @property
    def class_to_idx(self) -> dict[str, int]:
        """Class name -> label."""
        return {name: i for i, name in enumerate(self.classes)}

    @property
    def data(self) -> Any:
        """All images of the split, a uint8 tensor ``N x H x W`` (sharing memory with the dataset)."""
        return ferrotorch.from_numpy(self._images)

    @data.setter
    def data(self, value: Any) -> None:
        self._images = np.asarray(value)

    @property
    def targets(self) -> Any:
        """All labels of the split, an int64 tensor."""
        return ferrotorch.from_numpy(self._labels)

    @targets.setter
    def targets(self, value: Any) -> None:
        self._labels = np.asarray(value)

    # torchvision's old names
    train_data = test_data = data
    train_labels = test_labels = targets

    def _find(self, name: str) -> str:
        for candidate in (name, name + ".gz"):
            path = os.path.join(self.raw_folder, candidate)
            if os.path.isfile(path):
                return path
        raise FileNotFoundError(os.path.join(self.raw_folder, name))

    def _check_exists(self) -> bool:
        return all(
            any(os.path.isfile(os.path.join(self.raw_folder, n)) for n in (gz, gz[: -len(".gz")]))
            for gz, _ in self.resources
        )

    def download(self) -> None:
        """Downloads the missing files into ``raw_folder`` (trying each mirror) and unpacks them."""
        if self._check_exists():
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        for filename, md5 in self.resources:
            raw_path = os.path.join(self.raw_folder, filename[: -len(".gz")])
            gz_path = os.path.join(self.raw_folder, filename)
            if os.path.isfile(raw_path) or os.path.isfile(gz_path):
                continue
            errors = []
            for mirror in self.mirrors:
                url = f"{mirror}{filename}"
                try:
                    print(f"Downloading {url}")
                    download_url(url, gz_path, md5=md5)
                    break
                except (OSError, RuntimeError) as error:
                    errors.append(f"{url}: {error}")
                    print(f"Failed to download (trying next):\n{error}\n")
            else:
                raise RuntimeError(f"Error downloading {filename}:\n" + "\n".join(errors))
            extract_gzip(gz_path, raw_path)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img = self._images[index].copy()
        target = int(self._labels[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return len(self._images)

    def extra_repr(self) -> str:
        """The split, as torchvision prints it."""
        return f"Split: {'Train' if self.train else 'Test'}"

    def __repr__(self) -> str:
        lines = [
            f"Dataset {self.__class__.__name__}",
            f"    Number of datapoints: {len(self)}",
            f"    Root location: {self.root}",
            f"    {self.extra_repr()}",
        ]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        if self.target_transform is not None:
            lines.append(f"    Target transform: {self.target_transform!r}")
        return "\n".join(lines)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grey images of 10 kinds of clothing, MNIST's format and sizes.

    Reads ``root/FashionMNIST/raw/``; otherwise exactly as :class:`MNIST`.
    """

    mirrors: ClassVar[list[str]] = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources: ClassVar[list[tuple[str, str]]] = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes: ClassVar[list[str]] = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]

"""The 8x8 handwritten digits that scikit-learn ships (1797 images, bundled here): ``load_digits`` and ``Digits``."""

from __future__ import annotations

import functools
import gzip
import os
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

import ferrotorch
from ferrotorch.utils.data import Dataset

__all__ = ["Digits", "load_digits"]

_DATA_FILE = os.path.join(os.path.dirname(__file__), "data", "digits.csv.gz")
# The fixed train/test split: a permutation from numpy's legacy RandomState, whose stream never changes.
_SPLIT_SEED = 0
_NUM_TEST = 360


@functools.cache
def _load() -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(_DATA_FILE, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    images = table[:, :64].astype(np.uint8).reshape(-1, 8, 8)
    labels = table[:, 64].copy()
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 digits: ``images`` (uint8, ``1797 x 8 x 8``, values 0..16) and ``labels`` (int64, 0..9).

    The arrays are fresh copies; the file is parsed once per process.
    """
    images, labels = _load()
    return images.copy(), labels.copy()


def _split(train: bool) -> np.ndarray:
    n = len(_load()[1])
    order = np.random.RandomState(_SPLIT_SEED).permutation(n)
    return np.sort(order[_NUM_TEST:] if train else order[:_NUM_TEST])


class Digits(Dataset[tuple[Any, Any]]):
    """The 8x8 digits as a dataset with a fixed split: 1437 training and 360 test images.

    Each item is ``(image, label)``: ``image`` a uint8 numpy array ``8 x 8`` with values 0..16 (after
    ``transform``), ``label`` an ``int`` (after ``target_transform``). ``data`` and ``targets`` hold the
    whole split as tensors (uint8 ``N x 8 x 8`` and int64 ``N``) for loading it all at once.

    The data are the UCI ML hand-written digits test set (E. Alpaydin, C. Kaynak, 1998), as shipped by
    scikit-learn; see ``datasets/data/README.md``.
    """

    classes: ClassVar[list[str]] = [str(i) for i in range(10)]

    def __init__(
        self,
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        images, labels = _load()
        idx = _split(train)
        self._images = images[idx]
        self._labels = labels[idx]

    @property
    def data(self) -> Any:
        """The split's images, a uint8 tensor ``N x 8 x 8``."""
        return ferrotorch.from_numpy(self._images)

    @property
    def targets(self) -> Any:
        """The split's labels, an int64 tensor."""
        return ferrotorch.from_numpy(self._labels)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img: Any = self._images[index].copy()
        target: Any = int(self._labels[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return len(self._images)

    def __repr__(self) -> str:
        return (
            f"Dataset {self.__class__.__name__}\n    Number of datapoints: {len(self)}\n"
            f"    Split: {'Train' if self.train else 'Test'}"
        )

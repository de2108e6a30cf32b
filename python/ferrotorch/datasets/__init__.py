"""Datasets a user expects to find: MNIST and Fashion-MNIST from local IDX files, and the bundled 8x8 digits."""

from ferrotorch.datasets import mnist as mnist
from ferrotorch.datasets._idx import read_idx
from ferrotorch.datasets.digits import Digits, load_digits
from ferrotorch.datasets.mnist import MNIST, FashionMNIST

__all__ = ["MNIST", "Digits", "FashionMNIST", "load_digits", "mnist", "read_idx"]

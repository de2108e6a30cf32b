"""Fine-tuning with per-layer learning rates (optimizer param groups), as in the fine-tuning tutorial.

A network is pre-trained on the digits and saved. The new task is the same digits drawn dark on light
(inverted images), with only 100 labelled examples: a copy of the network is loaded, gets a new head, and is
fine-tuned with its pre-trained layers learning 10x slower than the new head. The same network trained from
scratch on those 100 images is the comparison.

    python examples/finetune_param_groups.py
"""

import os
import tempfile
import time

import ferrotorch as torch
from ferrotorch import nn
from ferrotorch.datasets import Digits
from ferrotorch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
        self.classifier = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def digits(train: bool, inverted: bool = False, limit: int | None = None) -> TensorDataset:
    """The digits as flat features in [0, 1] (``1 - x`` when inverted), at most ``limit`` of them."""
    ds = Digits(train=train)
    x = ds.data.float().div(16).flatten(1)
    if inverted:
        x = 1 - x
    return TensorDataset(x[:limit], ds.targets[:limit])


def train(model: nn.Module, optimizer: torch.optim.Optimizer, data: TensorDataset, epochs: int) -> None:
    loader = DataLoader(data, batch_size=16, shuffle=True)
    criterion = nn.CrossEntropyLoss()
    for _ in range(epochs):
        for x, y in loader:
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def accuracy(model: nn.Module, data: TensorDataset) -> float:
    x, y = data.tensors
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def main() -> None:
    torch.manual_seed(0)
    checkpoint = os.path.join(tempfile.mkdtemp(), "pretrained.pth")
    start = time.perf_counter()

    pretrained = Net()
    train(pretrained, torch.optim.Adam(pretrained.parameters(), lr=1e-3), digits(train=True), epochs=20)
    print(f"pre-trained: test accuracy {accuracy(pretrained, digits(train=False)):.3f}")
    torch.save(pretrained.state_dict(), checkpoint)

    few = digits(train=True, inverted=True, limit=100)
    test = digits(train=False, inverted=True)

    torch.manual_seed(1)
    model = Net()
    model.load_state_dict(torch.load(checkpoint))
    model.classifier = nn.Linear(64, 10)  # a fresh head for the new task
    base_lr = 1e-2
    optimizer = torch.optim.SGD(
        [
            {"params": model.features.parameters(), "lr": base_lr / 10},  # pre-trained: learn slowly
            {"params": model.classifier.parameters()},  # new: the default lr
        ],
        lr=base_lr,
        momentum=0.9,
    )
    print("learning rate per param group:", [group["lr"] for group in optimizer.param_groups])
    train(model, optimizer, few, epochs=30)

    torch.manual_seed(1)
    scratch = Net()
    train(scratch, torch.optim.SGD(scratch.parameters(), lr=base_lr, momentum=0.9), few, epochs=30)
    print(f"{time.perf_counter() - start:.1f} s in all")
    print(
        f"inverted digits from 100 images: fine-tuned test accuracy {accuracy(model, test):.2f}, "
        f"from scratch {accuracy(scratch, test):.2f}"
    )


if __name__ == "__main__":
    main()

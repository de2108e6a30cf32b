"""A small convolutional network on the bundled 8x8 digits.

python examples/cnn_digits.py [--epochs 15]
"""

import argparse
import time

import ferrotorch as torch
import ferrotorch.nn.functional as F
from ferrotorch import nn
from ferrotorch.datasets import Digits
from ferrotorch.utils.data import DataLoader, TensorDataset

try:
    from tqdm import tqdm
except ImportError:  # the progress bar is optional

    def tqdm(iterable, **kwargs):
        return iterable


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, padding=1)  # 16 x 8 x 8
        self.conv2 = nn.Conv2d(16, 32, kernel_size=3, padding=1)  # 32 x 4 x 4
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(32 * 2 * 2, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


def digits(train: bool) -> TensorDataset:
    """Images as 1 x 8 x 8 float tensors in [0, 1], with their labels."""
    ds = Digits(train=train)
    return TensorDataset(ds.data.float().div(16).unsqueeze(1), ds.targets)


def accuracy(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
            total += len(y)
    model.train()
    return correct / total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    args = parser.parse_args()

    torch.manual_seed(0)
    train_loader = DataLoader(digits(train=True), batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(digits(train=False), batch_size=256)
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        total_loss = 0.0
        for x, y in tqdm(train_loader, desc=f"epoch {epoch}", leave=False):
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(y)
        if epoch % 5 == 0 or epoch == args.epochs:
            mean_loss = total_loss / len(train_loader.dataset)
            print(f"epoch {epoch:3d}  loss {mean_loss:.4f}  test accuracy {accuracy(model, test_loader):.3f}")
    print(f"{(time.perf_counter() - start) / args.epochs * 1000:.0f} ms per epoch")
    print(f"test accuracy {accuracy(model, test_loader):.2f}")


if __name__ == "__main__":
    main()

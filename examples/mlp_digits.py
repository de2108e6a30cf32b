"""An MLP on the bundled 8x8 handwritten digits (1437 training / 360 test images): the main example.

python examples/mlp_digits.py [--epochs 30] [--plot loss.png]
"""

import argparse
import time

import ferrotorch as torch
from ferrotorch import nn
from ferrotorch.datasets import Digits
from ferrotorch.utils.data import DataLoader, TensorDataset

try:
    from tqdm import tqdm
except ImportError:  # the progress bar is optional

    def tqdm(iterable, **kwargs):
        return iterable


def digits(train: bool) -> TensorDataset:
    """Images scaled to [0, 1] and flattened to 64 features, with their labels."""
    ds = Digits(train=train)
    return TensorDataset(ds.data.float().div(16).flatten(1), ds.targets)


def accuracy(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(dim=1) == y).sum().item()
            total += len(y)
    model.train()
    return correct / total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--plot", metavar="PNG", help="save the loss curve (needs matplotlib)")
    args = parser.parse_args()

    torch.manual_seed(0)
    train_loader = DataLoader(digits(train=True), batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(digits(train=False), batch_size=256)

    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    losses = []
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        for x, y in tqdm(train_loader, desc=f"epoch {epoch}", leave=False):
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        if epoch % 5 == 0 or epoch == args.epochs:
            print(
                f"epoch {epoch:3d}  loss {losses[-1]:.4f}  test accuracy {accuracy(model, test_loader):.3f}"
            )
    seconds = time.perf_counter() - start
    print(f"{seconds / args.epochs * 1000:.0f} ms per epoch")

    if args.plot:
        import matplotlib.pyplot as plt

        plt.plot(losses)
        plt.xlabel("step")
        plt.ylabel("training loss")
        plt.savefig(args.plot)
    print(f"test accuracy {accuracy(model, test_loader):.2f}")


if __name__ == "__main__":
    main()

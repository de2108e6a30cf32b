"""An LSTM that predicts the next value of noisy sine waves of random frequency and phase.

python examples/lstm_sequence.py [--epochs 20]
"""

import argparse
import math
import time

import ferrotorch as torch
from ferrotorch import nn
from ferrotorch.utils.data import DataLoader, TensorDataset, random_split

try:
    from tqdm import tqdm
except ImportError:  # the progress bar is optional

    def tqdm(iterable, **kwargs):
        return iterable


def sine_waves(n: int, length: int) -> TensorDataset:
    """Inputs ``x[:, t]`` and targets ``x[:, t + 1]``, each ``n x length x 1``."""
    freq = torch.rand(n, 1) * 0.25 + 0.05
    phase = torch.rand(n, 1) * 2 * math.pi
    t = torch.arange(length + 1, dtype=torch.float32)
    waves = torch.sin(freq * t + phase) + 0.02 * torch.randn(n, length + 1)
    return TensorDataset(waves[:, :-1].unsqueeze(-1), waves[:, 1:].unsqueeze(-1))


class Predictor(nn.Module):
    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size=1, hidden_size=hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)  # batch x time x hidden
        return self.head(out)  # one prediction per time step


def evaluate(model: nn.Module, loader: DataLoader) -> tuple[float, float]:
    """Mean squared error of the model and of the "repeat the last value" baseline (steps 10 onwards)."""
    model.eval()
    mse = baseline = 0.0
    with torch.no_grad():
        for x, y in loader:
            mse += ((model(x) - y)[:, 10:] ** 2).mean().item() * len(x)
            baseline += ((x - y)[:, 10:] ** 2).mean().item() * len(x)
    model.train()
    n = len(loader.dataset)
    return mse / n, baseline / n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--length", type=int, default=40)
    args = parser.parse_args()

    torch.manual_seed(0)
    train_set, test_set = random_split(sine_waves(1200, args.length), [0.8, 0.2])
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=240)
    model = Predictor()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=8, gamma=0.3)
    criterion = nn.MSELoss()

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        for x, y in tqdm(train_loader, desc=f"epoch {epoch}", leave=False):
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
        if epoch % 5 == 0 or epoch == args.epochs:
            print(
                f"epoch {epoch:3d}  train loss {loss.item():.5f}  test mse {evaluate(model, test_loader)[0]:.5f}"
            )
    print(f"{(time.perf_counter() - start) / args.epochs * 1000:.0f} ms per epoch")
    mse, baseline = evaluate(model, test_loader)
    print(f"test mse {mse:.5f} (repeat-last-value baseline {baseline:.5f})")


if __name__ == "__main__":
    main()

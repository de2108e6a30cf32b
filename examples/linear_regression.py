"""Linear regression by gradient descent on the tensor API alone (seed 003's data: y = 2x + 1)."""

import ferrotorch as torch
import numpy as np


def main() -> None:
    torch.manual_seed(0)
    x = torch.from_numpy(np.arange(11, dtype=np.float32).reshape(-1, 1))
    y = 2 * x + 1
    w = torch.zeros(1, 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    for epoch in range(2000):
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= 0.01 * w.grad
            b -= 0.01 * b.grad
            w.grad.zero_()
            b.grad.zero_()
    print(f"w={w.item():.4f} b={b.item():.4f} loss={loss.item():.6f}")


if __name__ == "__main__":
    main()

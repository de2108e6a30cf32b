"""The example scripts' time per epoch, run unchanged under ferrotorch and under PyTorch (when installed).

    PYTHONPATH=python python benches/bench_examples.py [--epochs N] [--threads N]

Each example runs in a fresh interpreter. For the PyTorch run, a shim package named ``ferrotorch`` is put first on
``sys.path``: it makes ``import ferrotorch`` (and every ``ferrotorch.*`` submodule) resolve to ``torch``, and serves
``ferrotorch.datasets`` from our own ``digits.py`` running on top of PyTorch — so the very same script trains with
the same data. The scripts print ``<n> ms per epoch`` and a final metrics line; ratio = ferrotorch / PyTorch.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = ["mlp_digits.py", "cnn_digits.py", "lstm_sequence.py"]

SHIM = '''
"""``import ferrotorch`` → PyTorch, for benchmarking the examples under PyTorch."""
import importlib, importlib.abc, importlib.util, sys
import torch


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.startswith("ferrotorch.") and not name.startswith("ferrotorch.datasets"):
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        return importlib.import_module("torch" + spec.name[len("ferrotorch"):])

    def exec_module(self, module):
        pass


sys.meta_path.insert(0, _Alias())
sys.modules["ferrotorch"] = torch
spec = importlib.util.spec_from_file_location("ferrotorch.datasets", {digits!r})
datasets = importlib.util.module_from_spec(spec)
sys.modules["ferrotorch.datasets"] = datasets
spec.loader.exec_module(datasets)
torch.datasets = datasets
'''


def run(script: str, epochs: int, shim: Path | None, threads: int | None) -> tuple[float | None, str]:
    env = dict(os.environ)
    if threads:  # the same thread count for both libraries
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
            env[var] = str(threads)
    paths = [str(REPO / "python")] + ([str(shim)] if shim else [])
    if shim:
        paths.reverse()
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / script), "--epochs", str(epochs)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    text = out.stdout + out.stderr
    ms = re.findall(r"([\d.]+) ms per epoch", text)
    last = [line for line in out.stdout.strip().splitlines() if line][-1:] or [text.strip()[-200:]]
    return (float(ms[-1]) if ms else None), last[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    have_torch = importlib.util.find_spec("torch") is not None
    with tempfile.TemporaryDirectory() as tmp:
        shim = Path(tmp)
        (shim / "ferrotorch").mkdir()
        digits = REPO / "python" / "ferrotorch" / "datasets" / "digits.py"
        (shim / "ferrotorch" / "__init__.py").write_text(SHIM.format(digits=str(digits)))
        print(f"{'example':20} {'ferrotorch ms/epoch':>20} {'torch ms/epoch':>15} {'ratio':>6}")
        for script in EXAMPLES:
            ft_ms, ft_line = run(script, args.epochs, None, args.threads)
            t_ms, t_line = run(script, args.epochs, shim, args.threads) if have_torch else (None, "-")
            ratio = f"{ft_ms / t_ms:6.2f}" if ft_ms and t_ms else "     -"
            print(f"{script:20} {ft_ms or float('nan'):20.0f} {t_ms or float('nan'):15.0f} {ratio}")
            print(f"    ferrotorch: {ft_line}\n    torch:      {t_line}")


if __name__ == "__main__":
    main()

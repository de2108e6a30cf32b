"""The example scripts run end to end and learn: each is run in a fresh interpreter, as a user would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import ferrotorch
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(script: str, *args: str) -> str:
    env = dict(os.environ)
    # the same ferrotorch this test process imported (installed, or a checkout built in place)
    home = str(Path(ferrotorch.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([home, env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_main_job_mlp_on_digits_reaches_its_accuracy():
    out = run("mlp_digits.py")  # exactly README's main job
    acc = float(re.findall(r"test accuracy ([\d.]+)", out)[-1])
    assert acc >= 0.95, out


@pytest.mark.parametrize(
    "script,args,pattern,ok",
    [
        ("cnn_digits.py", ["--epochs", "4"], r"test accuracy ([\d.]+)", lambda v: v >= 0.8),
        ("lstm_sequence.py", ["--epochs", "2"], r"test mse ([\d.]+)", lambda v: v < 0.0187),
        ("linear_regression.py", [], r"w=([\d.]+)", lambda v: abs(v - 2.0) < 0.05),
        ("finetune_param_groups.py", [], r"fine-tuned[^\d]*([\d.]+)", lambda v: v > 0.5),
    ],
)
def test_examples_learn(script, args, pattern, ok):
    out = run(script, *args)
    found = re.findall(pattern, out)
    assert found, out
    assert ok(float(found[-1])), out

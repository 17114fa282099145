"""ResNet-50 in Relay text, weights in an .npz, run by relay-run and compared with numpy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

MODELS = Path(__file__).parent.parent / "examples" / "models"
sys.path.insert(0, str(MODELS))


def test_resnet50_from_text_and_npz_matches_numpy(tmp_path: Path):
    from resnet import resnet_numpy, resnet_text

    subprocess.run(
        [
            sys.executable,
            str(MODELS / "resnet.py"),
            "--layers",
            "50",
            "-o",
            str(tmp_path / "r50.rly"),
            "--meta",
            str(tmp_path / "r50.npz"),
        ],
        check=True,
    )
    _, weights, ops = resnet_text(50)  # the same seed: the same weights
    x = np.random.default_rng(5).standard_normal((1, 3, 224, 224)).astype(np.float32)
    np.savez(tmp_path / "in.npz", data=x)
    np.savez(tmp_path / "want.npz", output_0=resnet_numpy(x, weights, ops))
    r = subprocess.run(
        [
            "relay-run",
            str(tmp_path / "r50.rly"),
            "--meta",
            str(tmp_path / "r50.npz"),
            "-i",
            str(tmp_path / "in.npz"),
            "--interpret",
            "--expected",
            str(tmp_path / "want.npz"),
            "--rtol",
            "1e-4",
            "--atol",
            "1e-6",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "result[0]: 1x1000xfloat32" in r.stdout and "[SUCCESS]" in r.stdout

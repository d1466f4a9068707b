"""``import dirfast`` works without triton and without the compiled extension (fresh subprocesses)."""

import os
import subprocess
import sys


SNIPPET = """
import sys
{hide}
import torch, dirfast
x = torch.randn(33, requires_grad=True); y = torch.randn(33)
loss = dirfast.focal_l1(x, y, torch.rand(33))
loss.backward()
assert torch.isfinite(loss) and x.grad.shape == (33,)
print("path", dirfast.resolve_backend("auto", x.device, op="t"))
try:
    dirfast.mse(x, y, backend={backend!r})
except RuntimeError as exc:
    print("error", exc)
"""


def _run(hide, backend):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    code = SNIPPET.format(hide=hide, backend=backend)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_import_without_triton():
    out = _run("sys.modules['triton'] = None", "triton")
    assert "path cpu" in out, out  # auto still runs (C++ kernel or vectorised PyTorch)
    assert "error" in out and "pip install triton" in out, out


def test_import_without_extension():
    out = _run("sys.modules['dirfast._C'] = None", "cpu")
    assert "path cpu_torch" in out, out
    assert "error" in out and "no-build-isolation" in out, out


def test_import_does_not_import_triton():
    code = "import sys, dirfast; print('triton' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == "False", res.stdout + res.stderr

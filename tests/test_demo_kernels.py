"""`radzoo demo` pins portable CPU kernels before torch and numpy load (radzoo.cpu_kernels), so its figures are the
same bits on any x86-64 CPU with AVX2; ``--kernels native`` leaves each library's own choice. The demo process is
probed in a subprocess (the pins are read when the libraries load): its training step is replaced by a probe that
reports what torch and numpy really run with. bench/demo_portability.py shows the bits agreeing across simulated
CPUs; this checks the pins are in effect."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest
import torch

from radzoo import cpu_kernels
from radzoo.data.synthetic import default_dir
from radzoo.errors import InputError

PROBE = """
import json, sys
from radzoo import cli, cpu_kernels

real_pin = cpu_kernels.pin

def pin_then_probe(kernels):
    real_pin(kernels)
    import radzoo.comparison.demo as demo  # after the pins, as the command imports it

    def probe(out_dir, *rest):
        import torch
        print(json.dumps({"loaded_before_pin": LOADED, "capability": torch.backends.cpu.get_cpu_capability(),
                          "onednn": torch.backends.mkldnn.enabled, "numpy": cpu_kernels.numpy_simd(),
                          "kernels_json": json.loads((out_dir / "kernels.json").read_text())}))
        raise SystemExit(0)

    demo._run = probe

LOADED = [m for m in ("torch", "numpy") if m in sys.modules]
cpu_kernels.pin = pin_then_probe
sys.exit(cli.main(sys.argv[1:]))
"""

# torch's own CPU check (its vector kernels need AVX2 at least), in this process, which pinned nothing
X86_AVX2 = platform.machine().lower() in ("x86_64", "amd64") and torch.backends.cpu.get_cpu_capability() in (
    "AVX2", "AVX512")


def _demo_process(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in cpu_kernels.PORTABLE_ENV}
    return subprocess.run([sys.executable, "-c", PROBE, "demo", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def _probe(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.skipif(not X86_AVX2, reason="portable kernels are x86-64 with AVX2 (ARM and older CPUs run their own)")
def test_the_demo_runs_portable_kernels_by_default_and_native_on_request(tmp_path):
    portable = _probe(_demo_process("--out", str(tmp_path / "portable")))
    assert portable["loaded_before_pin"] == []  # the command loads neither library before it pins them
    assert portable["capability"] == "AVX2" and portable["onednn"] is False
    assert "512" not in portable["numpy"] and "V4" not in portable["numpy"]
    recorded = portable["kernels_json"]
    assert recorded["kernels"] == "portable" and recorded["pinned"] is True
    assert recorded["env"] == cpu_kernels.PORTABLE_ENV and recorded["torch_cpu_capability"] == "AVX2"

    native = _probe(_demo_process("--kernels", "native", "--out", str(tmp_path / "native")))
    plain = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                           env={k: v for k, v in os.environ.items() if k not in cpu_kernels.PORTABLE_ENV},
                           capture_output=True, text=True, check=True).stdout.strip()
    assert native["capability"] == plain and native["onednn"] is True
    assert native["kernels_json"]["kernels"] == "native"
    assert set(native["kernels_json"]["env"].values()) == {None}

    # a demo folder is resumed only with the kernels it was made with: its figures would mix
    mixed = _demo_process("--kernels", "native", "--out", str(tmp_path / "portable"))
    assert mixed.returncode == 2
    assert "ran with --kernels portable" in mixed.stderr and "choose another --out" in mixed.stderr


def test_asking_for_portable_kernels_after_torch_loaded_warns_and_names_the_fix(monkeypatch):
    assert "torch" in sys.modules  # loaded, as in a notebook that imported radzoo.api first
    for name in cpu_kernels.PORTABLE_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.warns(cpu_kernels.KernelsNotPinnedWarning, match="after torch and numpy loaded.*radzoo demo"):
        cpu_kernels.pin("portable")
    assert not any(name in os.environ for name in cpu_kernels.PORTABLE_ENV)  # nothing leaks into child processes
    with pytest.raises(InputError, match="portable, native"):
        cpu_kernels.pin("fast")


def test_the_synthetic_cache_folder_names_numpys_simd_level():
    """numpy's AVX-512 float32 maths draws other images than its AVX2 maths: each level caches its own set."""
    name = default_dir(30, 0, 64).name
    level = cpu_kernels.numpy_simd().lower()
    assert name.startswith("synthetic-v") and name.endswith("-" + "".join(c if c.isalnum() else "_" for c in level
                                                                          ).strip("_"))

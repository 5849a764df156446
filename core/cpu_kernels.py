"""Which CPU code paths torch and numpy run: ``portable`` pins them so a run gives the same bits on any x86-64 CPU
with AVX2 (the demo's default), ``native`` lets each library pick the fastest for the CPU it finds.

torch, MKL, oneDNN and numpy each choose vector kernels per CPU (AVX-512 on one machine, AVX2 on another, Intel
or AMD code paths), and their results differ in the last bits; a tiny model's training grows those bits into
different scores. Every pin is an environment variable read when the library loads or first runs a kernel, so
``pin`` must run before torch and numpy are imported (the ``radzoo`` command imports them lazily).
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any

from radzoo.errors import InputError

KERNELS = ("portable", "native")
DEFAULT_KERNELS = "portable"
# ATen's own vectorized kernels (softmax, reductions, elementwise): the AVX2 build, present on every x86-64 wheel.
# MKL's BLAS (matmul, linear): COMPATIBLE is the one branch Intel documents for Intel and non-Intel CPUs alike
# (its AVX2 branch is Intel-only and falls back to per-CPU dispatch on AMD). oneDNN (conv, gelu) is capped at AVX2
# and, within the portable run, switched off for ATen's kernels (its blocking also follows the CPU's cache sizes).
# numpy (the synthetic images): no AVX-512 dispatch (its x86-64-v4 level rounds float32 maths differently).
PORTABLE_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "COMPATIBLE",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
}
PINNED_LIBRARIES = ("torch", "numpy")


class KernelsNotPinnedWarning(UserWarning):
    """Portable kernels were asked for after torch or numpy had loaded: the run uses what they picked."""


def pin(kernels: str) -> None:
    """Set the environment for ``kernels`` before torch and numpy load (``native``: leave it as it is)."""
    if kernels not in KERNELS:
        raise InputError(f"kernels {kernels!r}: choose one of {', '.join(KERNELS)}")
    if kernels == "native" or all(os.environ.get(k) == v for k, v in PORTABLE_ENV.items()):
        return  # native, or pinned already (the command pins before anything loads, then calls the library)
    late = [name for name in PINNED_LIBRARIES if name in sys.modules]
    if not late:
        os.environ.update(PORTABLE_ENV)
    else:  # too late for this process; set, they would only leak into its child processes
        warnings.warn(KernelsNotPinnedWarning(
            f"portable kernels asked for after {' and '.join(late)} loaded: this process keeps the kernels they "
            "picked for this CPU, so its figures may differ from another machine's; run `radzoo demo` (a fresh "
            "process) or set " + " ".join(f"{k}={v!r}" for k, v in PORTABLE_ENV.items()) + " before importing "
            "torch"), stacklevel=2)


@contextlib.contextmanager
def scope(kernels: str) -> Iterator[None]:
    """Run a block with ``kernels``' torch switches: portable uses ATen's kernels instead of oneDNN's, whose
    blocking also follows the CPU's cache sizes (restored afterwards)."""
    import torch  # loaded only when asked (see module doc)

    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = kernels == "native"  # not mkldnn.flags(): it also notes TF32 on oneDNN
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


def numpy_simd() -> str:
    """The SIMD level numpy's float32 ``exp`` dispatches to (e.g. X86_V4 with AVX-512, X86_V3 with AVX2)."""
    try:
        from numpy.lib.introspect import opt_func_info  # numpy >= 2.0; loaded only when asked (see module doc)
    except ImportError:
        return "unknown"
    info = opt_func_info(func_name="exp", signature="float32").get("exp", {})
    return next(iter(info.values()), {}).get("current", "unknown")


def in_effect(kernels: str) -> dict[str, Any]:
    """What the run really uses: the requested mode, torch's CPU capability, the pins' variables and numpy's SIMD
    level; ``pinned`` says whether the portable pins took effect (always True for native)."""
    import torch  # loaded only when asked (see module doc)

    capability = torch.backends.cpu.get_cpu_capability()
    simd = numpy_simd()
    pinned = kernels == "native" or (capability == "AVX2" and "512" not in simd and "V4" not in simd
                                     and all(os.environ.get(k) == v for k, v in PORTABLE_ENV.items()))
    return {"kernels": kernels, "pinned": pinned, "torch_cpu_capability": capability, "numpy_simd": simd,
            "onednn": kernels == "native" and torch.backends.mkldnn.is_available(),
            "env": {k: os.environ.get(k) for k in PORTABLE_ENV}}

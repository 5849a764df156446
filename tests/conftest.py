"""Shared test set-up: no network, one torch thread per worker, shared tiny fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# tests/ mirrors radzoo's packages; a test reuses another folder's helpers by module name (test_chexprompt's judge
# server, test_data_images' DICOM writer), so every folder is importable whatever order pytest collects them in
for _folder in sorted(p for p in Path(__file__).parent.iterdir() if p.is_dir() and p.name[0] not in "._"):
    if str(_folder) not in sys.path:
        sys.path.append(str(_folder))

# Any hub call must fail in milliseconds, never reach for the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_llava_rad():
    """The tiny LLaVA-Rad demo recipe's model (built once per test session)."""
    from radzoo import build_model, load_recipe

    return build_model(load_recipe("demo/llava-rad"))

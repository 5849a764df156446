"""`radzoo import cxr-llava`: what a bad release does. Conformance with the official code is checked against goldens
from running it, in tests/conformance/test_cxr_llava_goldens.py (the hand-written reference forward that used to
live here shared the importer's reading and missed the official prompt's double BOS)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from published_replicas import write_cxr_llava
from release_replicas import hub_calls_fail  # noqa: F401 (autouse: hub downloads raise)


def test_cxr_llava_with_an_unknown_tensor_is_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    from radzoo.runs.importers import import_release
    from radzoo.runs.importers.run_writer import ReleaseError

    root = tmp_path / "src"
    write_cxr_llava(root)
    shard = root / "model-00001-of-00003.safetensors"
    state = load_file(shard)
    state["text_tower.weight"] = torch.zeros(2)
    save_file(state, shard, metadata={"format": "pt"})
    index = json.loads((root / "model.safetensors.index.json").read_text())
    index["weight_map"]["text_tower.weight"] = shard.name
    (root / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(ReleaseError, match="'text_tower.weight' is not part of a CXR-LLaVA model"):
        import_release("cxr-llava", root, tmp_path / "out" / "run")
    assert list((tmp_path / "out").iterdir()) == []
    shutil.rmtree(root)

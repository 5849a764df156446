"""The one atomic writer: whole files or nothing, created with the process umask, no stray temporaries."""

from __future__ import annotations

import os
import stat

import pytest
import torch

from radzoo.files.atomic import atomic_target, stale_temporaries, write_json_atomic
from radzoo.files.weight_files import load_weights, save_weights


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_result_files_get_the_process_umask(tmp_path, umask_022):
    json_file = write_json_atomic(tmp_path / "metrics.json", {"bleu": 1.0})
    weights = save_weights({"w": torch.ones(2)}, tmp_path / "run" / "model.safetensors")
    assert mode(json_file) == 0o644 and mode(weights) == 0o644
    assert torch.equal(load_weights(weights)["w"], torch.ones(2))


def test_a_failing_writer_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "labels.csv"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="disk full"), atomic_target(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.csv"]


def test_the_temporary_is_beside_the_target_and_renamed_on_success(tmp_path):
    target = tmp_path / "deep" / "plot.png"
    with atomic_target(target) as tmp:
        assert tmp.parent == target.parent and not target.exists()
        tmp.write_bytes(b"png")
        assert stale_temporaries(target.parent) == [tmp]  # what a kill at this point would leave behind
    assert target.read_bytes() == b"png" and stale_temporaries(target.parent) == []


def test_writers_that_create_nothing_are_an_error_not_an_empty_file(tmp_path):
    with pytest.raises(FileNotFoundError), atomic_target(tmp_path / "x.json"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_the_synthetic_cache_folder_gets_the_process_umask(tmp_path, monkeypatch, umask_022):
    from radzoo.data.synthetic import ensure_generated

    monkeypatch.setenv("RADZOO_CACHE", str(tmp_path))
    folder = ensure_generated(n=2, seed=0, image_size=32)
    assert mode(folder) == 0o755 and mode(folder / "reports.csv") == 0o644


def test_atomic_directory_appears_whole_or_not_at_all(tmp_path) -> None:
    from radzoo.errors import OutputExistsError
    from radzoo.files.atomic import atomic_directory

    previous = os.umask(0o022)
    out = tmp_path / "export"
    with pytest.raises(RuntimeError), atomic_directory(out) as stage:
        (stage / "half.bin").write_bytes(b"x")
        raise RuntimeError("the writer failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither the target nor the staging folder

    (tmp_path / ".export.partial").mkdir()  # what a killed writer left
    (tmp_path / ".export.partial" / "stale").write_text("old")
    with atomic_directory(out) as stage:
        assert list(stage.iterdir()) == []
        (stage / "model.safetensors").write_bytes(b"weights")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
    assert (out / "model.safetensors").read_bytes() == b"weights"
    assert stat.S_IMODE(out.stat().st_mode) == 0o755  # the umask's permissions, not mkdtemp's 0o700
    os.umask(previous)

    with pytest.raises(OutputExistsError, match="exists and is not an empty directory"), atomic_directory(out):
        pass
    assert (out / "model.safetensors").read_bytes() == b"weights"  # the finished one is untouched

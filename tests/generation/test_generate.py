"""Batched generation equals one-by-one generation; resumable JSONL survives kill -9; shards merge."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from radzoo.data.study import Study
from radzoo.files.jsonl import JsonlWriter, read_records
from radzoo.generation.lean_decode_step import LeanStep
from radzoo.generation.pipeline import ReportGenerator, generate
from radzoo.generation.sharding import merge_shards
from radzoo.recipe.decode_settings import DecodeSettings
from radzoo.runs.open import open_model

# every demo recipe gets an indication variant so prompts differ in length (left padding is exercised)
INDICATION = "prompt.instruction_with_indication='<image> Findings for this indication: {indication}'"
INDICATIONS = [None, "cough", "fever and shortness of breath for three days", None, "chest pain", "fall"]


def make_studies(folder: Path, n: int = 6) -> list[Study]:
    """``n`` random grayscale images with varied indications and a reference report."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    studies = []
    for i in range(n):
        path = folder / f"img{i}.png"
        Image.fromarray((rng.random((72, 64)) * 255).astype("uint8")).save(path)
        studies.append(Study(id=f"s{i}", image=str(path), report=f"report {i}",
                             indication=INDICATIONS[i % len(INDICATIONS)], split="test"))
    return studies


@pytest.mark.parametrize("recipe", ["demo/llava-rad", "demo/slava-cxr", "demo/cxr-llava"])
def test_batched_greedy_equals_unbatched(recipe, tmp_path, monkeypatch):
    studies = make_studies(tmp_path)
    model, cfg = open_model(recipe, overrides=[INDICATION, "generation.max_new_tokens=24"])
    run = ReportGenerator(model, DecodeSettings.from_recipe(cfg.generation), cfg.name)
    lengths = {int(m.sum()) for m in run.inputs(studies)["attention_mask"]}
    assert len(lengths) > 1, "prompts must differ in length for the test to exercise left padding"
    prefill = []
    # on a CPU the default engine prefills through its lean step, not the model's forward: record its arguments
    lean_prefill = LeanStep.prefill

    def recorded(self, embeds, mask, positions, cache):
        prefill.append({"attention_mask": mask, "position_ids": positions})
        return lean_prefill(self, embeds, mask, positions, cache)

    monkeypatch.setattr(LeanStep, "prefill", recorded)
    batched = run(studies)
    mask, positions = prefill[0]["attention_mask"], prefill[0]["position_ids"]
    for row_mask, row_pos in zip(mask, positions, strict=True):  # each row counts from 0 at its first real token
        assert row_mask[0] == 0 or row_mask.all()
        assert row_pos[row_mask.bool()].tolist() == list(range(int(row_mask.sum())))
    single = [run([s])[0] for s in studies]
    assert [r["prediction"] for r in batched] == [r["prediction"] for r in single]
    assert all(len(r["prediction"]) > 0 for r in batched)
    assert batched[1]["prompt"].count("cough") == 1 and batched[0]["reference"] == "report 0"
    assert batched[0]["model"] == cfg.name


@pytest.mark.parametrize("recipe", ["demo/llava-rad", "demo/slava-cxr"])
def test_static_kv_cache_gives_the_dynamic_cache_reports(recipe, tmp_path):
    # generation.cache=static is the fast GPU setting (compiled decode); on CPU it runs uncompiled, same tokens
    studies = make_studies(tmp_path, 4)
    model, cfg = open_model(recipe, overrides=[INDICATION, "generation.max_new_tokens=16"])
    dynamic = ReportGenerator(model, DecodeSettings.from_recipe(cfg.generation).replace(engine="hf"), cfg.name)(studies)
    from radzoo import load_recipe

    static_cfg = load_recipe(recipe, ["generation.max_new_tokens=16", "generation.cache=static",
                                      "generation.engine=hf"])
    settings = DecodeSettings.from_recipe(static_cfg.generation)
    assert settings.hf_kwargs()["cache_implementation"] == "static"
    static = ReportGenerator(model, settings, cfg.name)(studies)
    assert [r["prediction"] for r in static] == [r["prediction"] for r in dynamic]
    assert all(r["prediction"] for r in static)


def test_radzoo_generate_is_callable_even_after_the_module_is_imported(tmp_path):
    import radzoo
    import radzoo.generation.pipeline  # binds the package attribute to the module

    result = radzoo.generate("demo/llava-rad", make_studies(tmp_path, 1), out=tmp_path / "p.jsonl",
                             overrides=["generation.max_new_tokens=2"])
    assert result.generated == 1 and read_records(tmp_path / "p.jsonl")[0]["id"] == "s0"


def test_decode_settings_follow_the_recipe():
    from radzoo import load_recipe

    greedy = DecodeSettings.from_recipe(load_recipe("demo/slava-cxr").generation).hf_kwargs()
    assert greedy["do_sample"] is False and greedy["no_repeat_ngram_size"] == 3 and "temperature" not in greedy
    assert "engine" not in greedy and "seed" not in greedy  # radzoo's own keys never reach transformers
    sampled = DecodeSettings.from_recipe(load_recipe("cxr-llava", ["generation.do_sample=true"]).generation)
    assert sampled.do_sample is True and {"temperature", "top_p"} <= set(sampled.hf_kwargs())
    shorter = sampled.replace(max_new_tokens=3)  # a request's own copy: the recipe's settings stay as they were
    assert shorter.max_new_tokens == 3 and sampled.max_new_tokens == 512


def test_torn_last_line_is_truncated_and_ids_resume(tmp_path):
    out = tmp_path / "p.jsonl"
    out.write_text('{"id": "a", "prediction": "x"}\n{"id": "b", "predic', encoding="utf-8")
    with JsonlWriter(out) as writer:
        assert writer.repaired_bytes == len('{"id": "b", "predic')
        assert writer.done == {"a"}
        writer.write_batch([{"id": "a", "prediction": "dup"}, {"id": "b", "prediction": "y"}])
    assert [r["id"] for r in read_records(out)] == ["a", "b"]
    assert read_records(out)[0]["prediction"] == "x"


def test_corrupt_complete_line_is_a_clear_error(tmp_path):
    out = tmp_path / "p.jsonl"
    out.write_text('{"id": "a"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"p.jsonl:2: not valid JSON"):
        JsonlWriter(out)


def test_rerun_skips_done_ids_and_duplicate_ids_are_refused(tmp_path):
    studies = make_studies(tmp_path / "img", 3)
    out = tmp_path / "preds.jsonl"
    args = {"out": out, "studies": studies, "overrides": ["generation.max_new_tokens=4"], "batch_size": 2}
    first = generate("demo/llava-rad", **args)
    again = generate("demo/llava-rad", **args)
    assert (first.generated, again.generated, again.skipped) == (3, 0, 3)
    assert [r["id"] for r in read_records(out)] == ["s0", "s1", "s2"]
    assert (tmp_path / "preds.recipe.yaml").is_file()
    with pytest.raises(ValueError, match="'s0' appears more than once"):
        generate("demo/llava-rad", **{**args, "studies": studies + studies[:1]})


def test_shards_merge_into_one_file_with_unique_ids(tmp_path):
    studies = make_studies(tmp_path / "img", 5)
    common = {"studies": studies, "overrides": ["generation.max_new_tokens=6"], "batch_size": 4}
    generate("demo/llava-rad", out=tmp_path / "single.jsonl", **common)
    out = tmp_path / "sharded.jsonl"
    for rank in (1, 0):  # rank 0 last: it merges once every shard file exists
        generate("demo/llava-rad", out=out, rank=rank, world_size=2, **common)
    merged = read_records(out)
    assert [r["id"] for r in merged] == [s.id for s in studies]
    assert merged == read_records(tmp_path / "single.jsonl")
    assert len(read_records(tmp_path / "sharded.rank1-of-2.jsonl")) == 2
    assert merge_shards(out, 2) == 5  # merging again keeps ids unique


CHILD = textwrap.dedent("""
    import sys, time, torch
    torch.set_num_threads(1)
    from radzoo.data.study import Study
    from radzoo.files.jsonl import JsonlWriter
    from radzoo.generation.pipeline import generate
    write = JsonlWriter.write_batch
    def slow_write(self, records):  # widen the window in which the parent's SIGKILL lands
        write(self, records)
        time.sleep(0.4)
    JsonlWriter.write_batch = slow_write
    studies = [Study(**s) for s in __import__("json").loads(sys.argv[2])]
    generate("demo/llava-rad", out=sys.argv[1], studies=studies, batch_size=2,
             overrides=["generation.max_new_tokens=12"])
""")


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_matches_uninterrupted_run(tmp_path, caplog):
    studies = make_studies(tmp_path / "img", 10)
    out = tmp_path / "killed.jsonl"
    payload = json.dumps([s.__dict__ for s in studies])
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(out), payload], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.05)
    assert child.poll() is None, f"the child ended before the kill: {child.stderr.read().decode()[-2000:]}"
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stderr.close()
    survived = read_records(out)
    assert 2 <= len(survived) < len(studies)
    with out.open("a", encoding="utf-8") as f:  # what a kill inside write() would leave behind
        f.write('{"id": "s9", "prediction": "tor')
    with caplog.at_level(logging.INFO, logger="radzoo"):
        resumed = generate("demo/llava-rad", out=out, studies=studies, batch_size=2,
                           overrides=["generation.max_new_tokens=12"])
    assert resumed.skipped == len(survived) and resumed.repaired_bytes > 0
    assert any("torn last line" in m for m in caplog.messages)
    generate("demo/llava-rad", out=tmp_path / "clean.jsonl", studies=studies, batch_size=2,
             overrides=["generation.max_new_tokens=12"])
    records = read_records(out)
    assert sorted(r["id"] for r in records) == sorted(s.id for s in studies)
    assert {r["id"]: r for r in records} == {r["id"]: r for r in read_records(tmp_path / "clean.jsonl")}


def test_cli_generate_passes_data_options_to_the_readers(tmp_path, monkeypatch, capsys):
    import radzoo.api
    from radzoo.cli import main

    seen = {}

    def fake_read_studies(data_cfg, split):
        from radzoo.data.readers.result import ReadResult

        seen.update(path=data_cfg.path, format=data_cfg.format, split=split)
        return ReadResult(studies=make_studies(tmp_path / "img", 2))

    monkeypatch.setattr(radzoo.api, "read_studies", fake_read_studies)  # the command reads through radzoo.api
    out = tmp_path / "cli.jsonl"
    code = main(["generate", "demo/cxr-llava", "generation.max_new_tokens=3", "--data", str(tmp_path / "data.csv"),
                 "--format", "csv", "--out", str(out), "--batch-size", "2"])
    assert code == 0
    assert seen == {"path": str(tmp_path / "data.csv"), "format": "csv", "split": "test"}
    assert [r["id"] for r in read_records(out)] == ["s0", "s1"]
    assert "2 reports generated" in capsys.readouterr().out
    assert main(["generate", "demo/cxr-llava", "--out", str(out), "--dtype", "fp16"]) == 2
    assert "needs a GPU" in capsys.readouterr().err


TORCHRUN_CHILD = textwrap.dedent("""
    import json, sys, torch
    torch.set_num_threads(1)
    from radzoo.data.study import Study
    from radzoo.generation.pipeline import generate
    studies = [Study(**s) for s in json.loads(sys.argv[2])]
    generate("demo/llava-rad", out=sys.argv[1], studies=studies, batch_size=2,
             overrides=["generation.max_new_tokens=6"])
""")


@pytest.mark.slow
def test_torchrun_two_ranks_merge_into_one_file(tmp_path):
    studies = make_studies(tmp_path / "img", 5)
    script = tmp_path / "child.py"
    script.write_text(TORCHRUN_CHILD)
    out = tmp_path / "ddp.jsonl"
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script), str(out), json.dumps([s.__dict__ for s in studies])],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    generate("demo/llava-rad", out=tmp_path / "one.jsonl", studies=studies, batch_size=2,
             overrides=["generation.max_new_tokens=6"])
    assert read_records(out) == read_records(tmp_path / "one.jsonl")
    assert [len(read_records(tmp_path / f"ddp.rank{r}-of-2.jsonl")) for r in (0, 1)] == [3, 2]

"""The llava-hf export of an imported LLaVA-Rad, driven as users drive it, against LLaVA-Rad's own figures.

The replica of llava_rad_replica.py → `radzoo import llava-rad` → `radzoo export --format llava-hf`; then, in a
fresh interpreter without radzoo (llava_hf_clients.py): AutoProcessor with content parts and with a string,
AutoTokenizer plus the image processor (all through apply_chat_template(tokenize=True), plus rendered text fed back
with and without special tokens), pipeline("image-text-to-text"), and the prompt vLLM renders; and
`radzoo serve` of the export (through `radzoo import llava-hf`) with the openai client. The reference is
goldens/llava_rad.json, written by microsoft/LLaVA-Rad's own code (tools/llava_rad_goldens.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from llava_rad_replica import fingerprint, write_images, write_replica
from release_replicas import hub_calls_fail  # noqa: F401 (autouse: hub downloads raise)

GOLDEN = json.loads((Path(__file__).parent / "goldens" / "llava_rad.json").read_text())
STUDY_IDS = [f"s{i}" for i in range(len(GOLDEN["studies"]))]
GENERATING = ["processor/parts", "processor/string", "processor/rendered", "tokenizer+image_processor",
              "remote-code/processor/parts"]
pytestmark = pytest.mark.slow


def crop_offsets_differ(width: int, height: int, size: int) -> bool:
    """Whether transformers' centre crop (floor) and torchvision's (round half to even) start one pixel apart
    after the shortest-side resize to ``size``: the one place the export's pixels are not the official ones."""
    long_side = int(size * max(width, height) / min(width, height))  # both resize the short side to size
    return (long_side - size) // 2 != int(round((long_side - size) / 2.0))


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    from radzoo.cli import main

    root = tmp_path_factory.mktemp("llava_rad_export")
    release, base = write_replica(root)
    assert fingerprint(release, base) == GOLDEN["replica_fingerprint"], "rerun tools/llava_rad_goldens.py"
    images = write_images(root / "images")
    assert main(["import", "llava-rad", str(release), "--base-llm", str(base), "--out", str(root / "run")]) == 0
    assert main(["export", str(root / "run"), "--format", "llava-hf", "--out", str(root / "export")]) == 0
    return root, root / "export", images


@pytest.fixture(scope="module")
def clients(export):
    root, out, images = export
    info = json.loads((out / "radzoo_export.json").read_text())
    cases = []
    for sid, path, study in zip(STUDY_IDS, images, GOLDEN["studies"], strict=True):
        text = info["instruction_with_indication"].format(indication=study["indication"]) if study["indication"] \
            else info["instruction"]
        cases.append({"id": sid, "image": str(path), "question": text.replace("<image>", "").strip()})
    (root / "cases.json").write_text(json.dumps(cases))
    script = Path(__file__).with_name("llava_hf_clients.py")
    proc = subprocess.run([sys.executable, str(script), str(out), str(root / "cases.json"),
                           str(GOLDEN["max_new_tokens"]), str(root / "clients.json")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((root / "clients.json").read_text())
    assert result.pop("radzoo_imported") is False, "the clients must run on transformers alone"
    return result


def _official_prompt(study: dict, image_id: int) -> list[int]:
    return [image_id if t == -200 else t for t in study["prompt_ids"]]


@pytest.mark.parametrize("client", GENERATING)
def test_every_transformers_client_gets_the_official_prompt_ids(export, clients, client):
    image_id = json.loads((export[1] / "config.json").read_text())["image_token_index"]
    for sid, study in zip(STUDY_IDS, GOLDEN["studies"], strict=True):
        assert clients[client][sid]["prompt_ids"] == _official_prompt(study, image_id), (client, sid)


@pytest.mark.parametrize("fmt", ["openai-format", "string-format"])
def test_vllm_renders_the_official_prompt_ids_with_its_bos(export, clients, fmt):
    """vLLM's chat path tokenizes the rendered template with add_special_tokens=False: the template writes BOS."""
    image_id = json.loads((export[1] / "config.json").read_text())["image_token_index"]
    for sid, study in zip(STUDY_IDS, GOLDEN["studies"], strict=True):
        assert clients[f"vllm/{fmt}"][sid]["prompt_ids"] == _official_prompt(study, image_id), sid


def test_rendered_text_tokenized_with_special_tokens_gets_two_bos(export, clients):
    """The one documented misuse: text from apply_chat_template(tokenize=False) fed to the processor with its
    default add_special_tokens=True (transformers' chat-template docs warn about it for any template with BOS)."""
    image_id = json.loads((export[1] / "config.json").read_text())["image_token_index"]
    for sid, study in zip(STUDY_IDS, GOLDEN["studies"], strict=True):
        official = _official_prompt(study, image_id)
        assert clients["processor/rendered-default"][sid]["prompt_ids"] == official[:1] + official, sid


def _greedy_matches(export, clients, client: str) -> tuple[list[str], list[str]]:
    """(studies whose greedy ids equal the official ones, studies where the crop offsets differ)."""
    equal = [sid for sid, study in zip(STUDY_IDS, GOLDEN["studies"], strict=True)
             if clients[client][sid]["new_ids"] == study["greedy_ids"]]
    from PIL import Image

    shifted = []
    for sid, path in zip(STUDY_IDS, export[2], strict=True):
        with Image.open(path) as img:
            if crop_offsets_differ(*img.size, GOLDEN["studies"][0]["pixels"]["shape"][-1]):
                shifted.append(sid)
    return equal, shifted


@pytest.mark.parametrize("client", GENERATING)
def test_every_transformers_client_gets_the_official_greedy_ids_where_the_crop_agrees(export, clients, client):
    equal, shifted = _greedy_matches(export, clients, client)
    assert sorted(set(STUDY_IDS) - set(shifted)) == sorted(set(equal) - set(shifted))
    assert len(shifted) < len(STUDY_IDS) // 2


@pytest.mark.xfail(strict=True, reason="known difference: transformers' centre crop floors the offset where "
                   "torchvision (LLaVA-Rad's open_clip transform) rounds it, so one study's pixels are one column "
                   "apart; no stock transformers image processor rounds (both backends floor): trust_remote_code=True "
                   "loads the export's own rounding processor, see docs/CONFORMANCE.md")
def test_the_export_gives_the_official_greedy_ids_for_every_study(export, clients):
    equal, _ = _greedy_matches(export, clients, "processor/parts")
    assert equal == STUDY_IDS


def test_trust_remote_code_gives_the_official_greedy_ids_for_every_study(export, clients):
    """The export ships image_processing_radzoo.py in its auto_map: with trust_remote_code=True the crop rounds as
    torchvision does, so the crop-shifted study gets the official report too."""
    assert clients["remote-code/class"] == "RadzooCLIPImageProcessor"
    equal, shifted = _greedy_matches(export, clients, "remote-code/processor/parts")
    assert shifted, "no study's crop margin differs: the check means nothing"
    assert equal == STUDY_IDS


def test_the_remote_code_pipeline_writes_the_official_reports(export, clients):
    assert {sid: clients["remote-code/pipeline"][sid]["report"] for sid in STUDY_IDS} == _official_reports(export)


def _official_reports(export) -> dict[str, str]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(export[1])
    return {sid: tokenizer.decode(study["greedy_ids"], skip_special_tokens=True).strip()
            for sid, study in zip(STUDY_IDS, GOLDEN["studies"], strict=True)}


def test_the_pipeline_writes_the_reports_of_the_processor_path(clients):
    assert {sid: clients["pipeline"][sid]["report"] for sid in STUDY_IDS} == \
        {sid: clients["processor/parts"][sid]["report"] for sid in STUDY_IDS}


@pytest.fixture(scope="module")
def served(export, tmp_path_factory):
    """{study index: (served report, official report)}: the export imported back (`radzoo import llava-hf`, since
    `radzoo serve` serves runs) and served; the openai client sends the image and the indication."""
    from serve_process import ServerProcess, data_url
    from transformers import AutoTokenizer

    from radzoo.cli import main

    root, out, images = export
    scratch = tmp_path_factory.mktemp("served")
    assert main(["import", "llava-hf", str(out), "--out", str(scratch / "reimported")]) == 0
    server = ServerProcess(scratch / "server.log", tokens=GOLDEN["max_new_tokens"], source=str(scratch / "reimported"))
    tokenizer = AutoTokenizer.from_pretrained(out)
    answers = {}
    try:
        client = server.client()
        model = client.models.list().data[0].id
        for i, (path, study) in enumerate(zip(images, GOLDEN["studies"], strict=True)):
            content = [{"type": "image_url", "image_url": {"url": data_url(path.read_bytes())}}]
            if study["indication"]:
                content.append({"type": "text", "text": study["indication"]})
            answer = client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}],
                                                    temperature=0)
            official = tokenizer.decode(study["greedy_ids"], skip_special_tokens=True).strip()
            answers[i] = (answer.choices[0].message.content, official, tokenizer.pad_token_id in study["greedy_ids"])
    finally:
        server.stop()
    return answers


def test_radzoo_serve_of_the_export_gives_the_official_report_for_every_study(served):
    """radzoo's own transform keeps the official pixels (so the crop-shifted study matches too), and serve ends a
    report at EOS only: the export pads with <unk> (0), which the replica's random LM emits mid-report."""
    assert any(has_pad for _, _, has_pad in served.values()), "no study emits the pad id: the check means nothing"
    assert {i: ours for i, (ours, _, _) in served.items()} == {i: official for i, (_, official, _) in served.items()}

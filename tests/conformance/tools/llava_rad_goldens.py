"""Write tests/conformance/goldens/llava_rad.json from LLaVA-Rad's own code run on the tiny replica.

NEEDS THE UPSTREAM CHECKOUT (tests never run this; they read the committed JSON). Set-up, outside the project:
    fetch github:microsoft/LLaVA-Rad, extract HEAD to UPSTREAM (e.g. /work/upstream/llava-rad/src)
    python3 -m venv V; echo <radzoo venv site-packages> > V/lib/python3.11/site-packages/zz_base.pth
    V/bin/pip install --no-deps transformers==4.31.0 tokenizers==0.13.3 peft==0.4.0 accelerate==0.21.0 \
        open-clip-torch==2.23.0 timm==0.9.12 sentencepiece==0.1.99 numpy==1.26.0 einops==0.6.1 einops-exts==0.0.4 \
        huggingface-hub==0.16.4 safetensors==0.3.3
usage (radzoo's python): python tests/conformance/tools/llava_rad_goldens.py UPSTREAM V/bin/python WORK_DIR
It builds the replica with llava_rad_replica.py (radzoo's venv), seeds an HF cache in WORK_DIR with the hub files
LLaVA-Rad fetches even when the release is local (the tower config; BiomedBERT's config and vocab for open_clip's
text tower), runs llava_rad_official.py in the upstream venv, and writes the golden with the replica's fingerprint.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1] / "runs")]

import llava_rad_replica as replica  # noqa: E402

GOLDEN = HERE.parent / "goldens" / "llava_rad.json"
SNAPSHOT = "0" * 40


def seed_hub_file(hf_home: Path, repo: str, name: str, source: Path | None = None, text: str | None = None) -> None:
    """Put ``name`` of hub repo ``repo`` into the HF cache at ``hf_home`` (as a finished download leaves it)."""
    repo_dir = hf_home / "hub" / ("models--" + repo.replace("/", "--"))
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(SNAPSHOT)
    target = repo_dir / "snapshots" / SNAPSHOT / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if source is not None:
        shutil.copyfile(source, target)
    else:
        target.write_text(text or "", encoding="utf-8")


def upstream_versions(python: str) -> dict[str, str]:
    code = ("import json, importlib.metadata as m; print(json.dumps({p: m.version(p) for p in ('transformers', "
            "'tokenizers', 'peft', 'accelerate', 'open_clip_torch', 'timm', 'sentencepiece', 'torch', 'numpy', "
            "'huggingface_hub')}))")
    return json.loads(subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout)


def main(upstream: Path, python: str, work: Path) -> None:
    if work.exists():
        shutil.rmtree(work)
    release, base = replica.write_replica(work)
    images = replica.write_images(work / "images")
    hf_home = work / "hf"
    seed_hub_file(hf_home, "microsoft/llava-rad", "biomedclipcxr_518.json", release / "biomedclipcxr_518.json")
    seed_hub_file(hf_home, replica.BERT, "config.json", text=json.dumps(replica.BERT_CONFIG))
    seed_hub_file(hf_home, replica.BERT, "vocab.txt", text="\n".join(replica.BERT_VOCAB) + "\n")
    seed_hub_file(hf_home, replica.BERT, "tokenizer_config.json", text=json.dumps({"do_lower_case": True}))
    studies = [{"image": str(p), "indication": s[2]} for p, s in zip(images, replica.STUDIES, strict=True)]
    (work / "studies.json").write_text(json.dumps(studies))
    env = {**os.environ, "PYTHONPATH": str(upstream), "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    out = work / "official.json"
    subprocess.run([python, str(HERE / "llava_rad_official.py"), str(release), str(base), str(work / "studies.json"),
                    str(replica.MAX_NEW_TOKENS), str(out)], cwd=release, env=env, check=True)
    official = json.loads(out.read_text())
    commit = subprocess.run(["git", "-C", str(upstream), "rev-parse", "HEAD"], capture_output=True, text=True)
    golden = {
        "produced_by": "tests/conformance/tools/llava_rad_goldens.py (LLaVA-Rad's own code, run; fp32, CPU)",
        "upstream": {"repository": "microsoft/LLaVA-Rad",
                     "commit": commit.stdout.strip() or os.environ.get("LLAVA_RAD_COMMIT", "unknown"),
                     "versions": upstream_versions(python)},
        "replica_fingerprint": replica.fingerprint(release, base),
        "max_new_tokens": replica.MAX_NEW_TOKENS,
        "studies": [{"image": p.name, "indication": s[2], **r}
                    for p, s, r in zip(images, replica.STUDIES, official["studies"], strict=True)],
        "image_tokens": official["image_tokens"], "model_dtype": official["model_dtype"],
    }
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(golden, indent=1) + "\n", encoding="utf-8")
    margins = [s["min_margin_over_std"] for s in golden["studies"]]
    print(f"wrote {GOLDEN}: {len(margins)} studies, min top-2 margin / logit std = {min(margins):.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))

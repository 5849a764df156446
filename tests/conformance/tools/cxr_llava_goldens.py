"""Write goldens/cxr_llava.json by running the OFFICIAL CXR-LLaVA inference code on the tiny replica.

NOT run by the tests. Needs the upstream checkout and a throwaway venv pinned to its requirements.txt:
    git clone https://github.com/ECOFRI/CXR_LLaVA /work/upstream/ECOFRI+CXR_LLaVA   (tested at b7403b7)
    python3 -m venv V  # torch from the project venv through a .pth; then, shadowing it:
    V/bin/pip install --no-deps transformers==4.36.2 tokenizers==0.15.2 huggingface-hub==0.20.2 safetensors==0.4.1
    V/bin/python tests/conformance/tools/cxr_llava_goldens.py --upstream /work/upstream/ECOFRI+CXR_LLaVA

What runs is upstream's own ``CXRLLAVAModel.from_pretrained`` and ``write_radiologic_report(image,
temperature=0)`` (chat template, ``tokenizer_image_token``, image processor, ``generate``). Two shims only, so that
it runs in fp32 on a CPU: inside upstream's module ``torch.bfloat16`` reads as float32, and ``Tensor.cuda`` is the
identity. ``model.generate`` is wrapped to record its inputs and per-step scores; nothing else is replaced.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import published_replicas as replicas  # noqa: E402


class _Fp32Torch:
    """``torch`` as upstream's module sees it: bfloat16 is float32 (the golden is an fp32 run)."""

    def __getattr__(self, name):
        return torch.float32 if name == "bfloat16" else getattr(torch, name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", type=Path, default=Path("/work/upstream/ECOFRI+CXR_LLaVA"))
    parser.add_argument("--out", type=Path, default=HERE.parent / "goldens" / "cxr_llava.json")
    args = parser.parse_args()
    sys.path.insert(0, str(args.upstream))
    import transformers
    from CXR_LLAVA_HF import CXR_LLAVA_HF as upstream

    upstream.torch = _Fp32Torch()
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "CXR-LLAVA-v2"
        replicas.write_cxr_llava(src)
        model = upstream.CXRLLAVAModel.from_pretrained(str(src)).eval()
        assert next(model.llama.parameters()).dtype == torch.float32
        seen: dict = {}
        finished = threading.Event()
        original_generate, original_template = model.generate, model.apply_chat_template

        def recording_generate(**kwargs):
            try:
                out = original_generate(**kwargs, output_scores=True, return_dict_in_generate=True)
                seen.update(inputs=kwargs["inputs"], images=kwargs["images"], out=out)
            except BaseException as exc:  # the thread would swallow it
                seen["error"] = exc
                raise
            finally:  # upstream returns once the streamer ends, which is before generate returns
                finished.set()

        def recording_template(chat):
            seen["prompt"] = original_template(chat)
            return seen["prompt"]

        model.generate, model.apply_chat_template = recording_generate, recording_template
        studies = []
        for index in range(replicas.STUDIES):
            seen.clear()
            finished.clear()
            text = model.write_radiologic_report(replicas.study_image(index), temperature=0)
            finished.wait(60)
            assert "error" not in seen, seen.get("error")
            prompt_ids = seen["inputs"][0].tolist()
            new = seen["out"].sequences[0, len(prompt_ids):].tolist()
            scores = torch.stack([s[0] for s in seen["out"].scores])
            top2 = scores.topk(2, dim=-1).values
            margins = (top2[:, 0] - top2[:, 1]) / scores.std(dim=-1)
            studies.append({"prompt_ids": prompt_ids, "greedy_ids": new, "text": text,
                            "pixels": replicas.pixel_summary(seen["images"]),
                            "first_logits": [round(float(x), 6) for x in scores[0]],
                            "min_margin_over_std": float(margins.min()),
                            "min_margin": float((top2[:, 0] - top2[:, 1]).min()),
                            "logit_std": float(scores.std(dim=-1).mean())})
        golden = {
            "format": "cxr-llava",
            "upstream": {"repo": "ECOFRI/CXR_LLaVA", "commit": _commit(args.upstream),
                         "entry": "CXRLLAVAModel.from_pretrained + write_radiologic_report(image, temperature=0)",
                         "shims": ["torch.bfloat16 -> float32 inside CXR_LLAVA_HF", "Tensor.cuda -> identity"]},
            "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                         "tokenizers": __import__("tokenizers").__version__},
            "tokenizer_class": type(model.tokenizer).__name__,
            "prompt_text": seen["prompt"], "replica_digests": replicas.digests(src),
            "min_margin_over_std": min(s["min_margin_over_std"] for s in studies),
            "min_margin": min(s["min_margin"] for s in studies), "studies": studies}
    args.out.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {args.out}: {len(studies)} studies, greedy lengths {[len(s['greedy_ids']) for s in studies]}, "
          f"min margin/std {golden['min_margin_over_std']:.3f}, threads {threading.active_count()}")


def _commit(checkout: Path) -> str:
    head = checkout / ".upstream_commit"
    return head.read_text().strip() if head.is_file() else "unknown"


if __name__ == "__main__":
    main()

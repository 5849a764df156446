"""Write goldens/slava_cxr_{linear,mlp2x_gelu}.json by running the OFFICIAL SLaVA-CXR (LLaVA-Phi) evaluation code.

NOT run by the tests. Needs the upstream checkout and a throwaway venv pinned as its pyproject.toml says:
    git clone https://github.com/knowlab/SLaVA-CXR /work/upstream/knowlab+SLaVA-CXR   (tested at 81e4b09)
    python3 -m venv V  # torch from the project venv through a .pth; then, shadowing it:
    V/bin/pip install --no-deps transformers==4.36.2 tokenizers==0.15.2 huggingface-hub==0.20.2 safetensors==0.4.1 \
        shortuuid
    V/bin/python tests/conformance/tools/slava_cxr_goldens.py --upstream /work/upstream/knowlab+SLaVA-CXR

What runs is upstream's own ``llava_phi.eval.model_vqa_slava_cxr.eval_model`` (its README's entry point) with
``--conv-mode phi-2_v0 --temperature 0``: ``load_pretrained_model``, ``conv_phi_v0``, ``tokenizer_image_token``,
the CLIP image processor and ``generate(no_repeat_ngram_size=3)``. Shims so that it runs on a CPU only: the
builder's ``device_map``/``device`` defaults read "cpu", ``Module.to("cuda")`` moves nowhere and ``Tensor.cuda``
is the identity. ``model.generate`` is wrapped to record inputs, per-step scores and the prompt's last logits
(from upstream's own forward). The replica's folder is named with "phi" because the official builder needs it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import published_replicas as replicas  # noqa: E402

QUESTION = "Write a findings report of this image:"  # iuxray_sample_findings.jsonl's question


def _cpu_only() -> None:
    original_to = torch.nn.Module.to

    def to(self, *args, **kwargs):
        args = tuple("cpu" if a == "cuda" else a for a in args)
        if kwargs.get("device") == "cuda":
            kwargs["device"] = "cpu"
        return original_to(self, *args, **kwargs)

    torch.nn.Module.to = to
    torch.Tensor.cuda = lambda self, *a, **k: self


def run(upstream: Path, projector: str, out: Path) -> None:
    import transformers
    from llava_phi.eval import model_vqa_slava_cxr as evaluation
    from llava_phi.model import builder

    builder.load_pretrained_model.__defaults__ = (False, False, "cpu", "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "slava-cxr-llava-phi"
        replicas.write_slava_cxr(src, projector)
        images = Path(tmp) / "images"
        images.mkdir()
        questions = Path(tmp) / "questions.jsonl"
        with questions.open("w") as f:
            for index in range(replicas.STUDIES):
                replicas.study_image(index).save(images / f"study{index}.png")
                f.write(json.dumps({"question_id": index, "image": f"study{index}.png", "text": QUESTION}) + "\n")
        records: list[dict] = []
        original_load = builder.load_pretrained_model  # eval_model's own reference is replaced below, per run

        def load_and_record(*args, **kwargs):
            tokenizer, model, processor, context = original_load(*args, **kwargs)
            original_generate = model.generate

            def recording_generate(input_ids, images=None, **gen_kwargs):
                with torch.no_grad():
                    first = model(input_ids=input_ids, images=images).logits[0, -1]
                result = original_generate(input_ids, images=images, output_scores=True,
                                           return_dict_in_generate=True, **gen_kwargs)
                records.append({"inputs": input_ids, "images": images, "first": first, "out": result,
                                "kwargs": {k: v for k, v in gen_kwargs.items() if isinstance(v, (int, float))}})
                return result.sequences

            model.generate = recording_generate
            records.append({"model": model, "tokenizer": tokenizer})
            return tokenizer, model, processor, context

        evaluation.load_pretrained_model = load_and_record
        answers = Path(tmp) / "answers.jsonl"
        evaluation.eval_model(SimpleNamespace(
            model_path=str(src), model_base=None, image_folder=str(images), question_file=str(questions),
            answers_file=str(answers), conv_mode="phi-2_v0", num_chunks=1, chunk_idx=0, temperature=0.0,
            top_p=None, num_beams=1, max_new_tokens=512))
        texts = [json.loads(line)["text"] for line in answers.read_text().splitlines()]
        model = records.pop(0)["model"]
        assert next(model.parameters()).dtype == torch.float32
        studies = []
        for record, text in zip(records, texts, strict=True):
            prompt_ids = record["inputs"][0].tolist()
            new = record["out"].sequences[0, len(prompt_ids):].tolist()
            scores = torch.stack([s[0] for s in record["out"].scores])
            top2 = scores.topk(2, dim=-1).values
            spread = torch.stack([row[row.isfinite()].std() for row in scores])
            studies.append({"prompt_ids": prompt_ids, "greedy_ids": new, "text": text,
                            "pixels": replicas.pixel_summary(record["images"]),
                            "first_logits": [round(float(x), 6) for x in record["first"]],
                            "min_margin_over_std": float(((top2[:, 0] - top2[:, 1]) / spread).min()),
                            "min_margin": float((top2[:, 0] - top2[:, 1]).min()),
                            "logit_std": float(spread.mean()), "generate_kwargs": record["kwargs"]})
        golden = {
            "format": "slava-cxr", "projector": projector,
            "upstream": {"repo": "knowlab/SLaVA-CXR", "commit": _commit(upstream),
                         "entry": "llava_phi.eval.model_vqa_slava_cxr.eval_model --conv-mode phi-2_v0 "
                                  "--temperature 0 --max_new_tokens 512",
                         "shims": ["load_pretrained_model device_map/device defaults -> cpu",
                                   "Module.to('cuda') -> cpu", "Tensor.cuda -> identity"]},
            "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                         "tokenizers": __import__("tokenizers").__version__},
            "question": QUESTION, "replica_digests": replicas.digests(src),
            "min_margin_over_std": min(s["min_margin_over_std"] for s in studies),
            "min_margin": min(s["min_margin"] for s in studies), "studies": studies}
    out.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {out}: greedy lengths {[len(s['greedy_ids']) for s in studies]}, "
          f"min margin/std {golden['min_margin_over_std']:.2e}, min margin {golden['min_margin']:.2e}")


def _commit(checkout: Path) -> str:
    head = checkout / ".upstream_commit"
    return head.read_text().strip() if head.is_file() else "unknown"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", type=Path, default=Path("/work/upstream/knowlab+SLaVA-CXR"))
    parser.add_argument("--projector", choices=("linear", "mlp2x_gelu"), action="append")
    args = parser.parse_args()
    sys.path.insert(0, str(args.upstream))
    _cpu_only()
    torch.manual_seed(0)
    for projector in args.projector or ("linear", "mlp2x_gelu"):
        run(args.upstream, projector, HERE.parent / "goldens" / f"slava_cxr_{projector}.json")


if __name__ == "__main__":
    main()

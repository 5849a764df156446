"""Write goldens/maira2.json and goldens/maira2_multi_image.json by running MAIRA-2's remote code on the replica.

NOT run by the tests. microsoft/maira-2 is gated and its code lives only on the hub; the copies used are:
    processing_maira2.py    github johannes2moll/maira_rrg @ f8c7a71 (a Microsoft-copyright copy; its code
                            matches that repository's first import a07b72d, only a docstring differs)
    modeling_maira2.py      a Microsoft-copyright copy found by content search (the version whose
    configuration_maira2.py  get_image_features reads Dinov2Backbone.feature_maps, no **kwargs)
placed in a folder given as --remote. Throwaway venv pinned to the model card's range (>=4.48,<4.52):
    python3 -m venv V  # torch from the project venv through a .pth; then, shadowing it:
    V/bin/pip install --no-deps transformers==4.48.3 tokenizers==0.21.0 huggingface-hub==0.26.3 safetensors==0.4.5
    V/bin/python tests/conformance/tools/maira2_goldens.py --remote /work/upstream/maira2/maira2_remote

What runs is the model card's path: ``AutoModelForCausalLM``/``AutoProcessor.from_pretrained(trust_remote_code=True)``,
``processor.format_and_preprocess_reporting_input(...)`` and ``model.generate(**inputs, max_new_tokens=450)``
(radzoo's recipe length), on CPU in fp32, no shims. NOT upstream: the chat template (chat_template.json was not
found in public text; published_replicas.MAIRA2_TEMPLATE is radzoo's reading of it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import published_replicas as replicas  # noqa: E402

MAX_NEW_TOKENS = 450
MULTI = {"indication": "cough", "technique": "PA and lateral", "comparison": "prior study",
         "prior_report": "the heart size is normal."}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--remote", type=Path, default=Path("/work/upstream/maira2/maira2_remote"))
    args = parser.parse_args()
    import transformers
    from transformers import AutoModelForCausalLM, AutoProcessor

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "maira-2"
        replicas.write_maira2(src)
        digests = replicas.digests(src)
        for name in ("configuration_maira2.py", "modeling_maira2.py", "processing_maira2.py"):
            shutil.copyfile(args.remote / name, src / name)
        model = AutoModelForCausalLM.from_pretrained(str(src), trust_remote_code=True).eval()
        processor = AutoProcessor.from_pretrained(str(src), trust_remote_code=True)
        assert type(model).__name__ == "Maira2ForConditionalGeneration" and next(model.parameters()).dtype == \
            torch.float32
        studies = []
        for index in range(replicas.STUDIES):
            inputs = processor.format_and_preprocess_reporting_input(
                current_frontal=replicas.study_image(index), current_lateral=None, prior_frontal=None,
                indication=None, technique=None, comparison=None, prior_report=None, get_grounding=False,
                return_tensors="pt")
            with torch.no_grad():
                first = model(**inputs).logits[0, -1]
                out = model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, use_cache=True, output_scores=True,
                                     return_dict_in_generate=True)
            prompt_ids = inputs["input_ids"][0].tolist()
            new = out.sequences[0, len(prompt_ids):].tolist()
            scores = torch.stack([s[0] for s in out.scores])
            top2 = scores.topk(2, dim=-1).values
            studies.append({"prompt_ids": prompt_ids, "greedy_ids": new,
                            "text": processor.decode(new, skip_special_tokens=True),
                            "pixels": replicas.pixel_summary(inputs["pixel_values"]),
                            "first_logits": [round(float(x), 6) for x in first],
                            "min_margin_over_std": float(((top2[:, 0] - top2[:, 1]) / scores.std(dim=-1)).min()),
                            "min_margin": float((top2[:, 0] - top2[:, 1]).min()),
                            "logit_std": float(scores.std(dim=-1).mean())})
        text, _ = processor.format_reporting_input(
            current_frontal=replicas.study_image(0), current_lateral=None, prior_frontal=None, indication=None,
            technique=None, comparison=None, prior_report=None)
        multi_text, _ = processor.format_reporting_input(
            current_frontal=replicas.study_image(0), current_lateral=replicas.study_image(1),
            prior_frontal=replicas.study_image(2), **MULTI)
        multi = processor.format_and_preprocess_reporting_input(
            current_frontal=replicas.study_image(0), current_lateral=replicas.study_image(1),
            prior_frontal=replicas.study_image(2), get_grounding=False, return_tensors="pt", **MULTI)
        provenance = {
            "upstream": {"processing_maira2.py": "github johannes2moll/maira_rrg@f8c7a71 (Microsoft-copyright copy)",
                         "modeling_maira2.py": "Microsoft-copyright copy (feature_maps version), found by content "
                                               "search; the hub repository is gated",
                         "entry": "AutoModelForCausalLM/AutoProcessor.from_pretrained(trust_remote_code=True); "
                                  "format_and_preprocess_reporting_input; generate(max_new_tokens=450)",
                         "not_upstream": "chat template (radzoo's reading: published_replicas.MAIRA2_TEMPLATE)"},
            "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                         "tokenizers": __import__("tokenizers").__version__},
            "replica_digests": digests}
        golden = {"format": "maira-2", **provenance, "image_token_index": model.config.image_token_index,
                  "image_seq_length": model.config.image_seq_length, "prompt_text": text,
                  "min_margin_over_std": min(s["min_margin_over_std"] for s in studies),
                  "min_margin": min(s["min_margin"] for s in studies), "studies": studies}
        multi_golden = {"format": "maira-2", **provenance, "sections": MULTI,
                        "images": ["study_image(0) current frontal", "study_image(1) current lateral",
                                   "study_image(2) prior frontal"],
                        "prompt_text": multi_text, "prompt_ids": multi["input_ids"][0].tolist(),
                        "image_token_index": model.config.image_token_index,
                        "pixels": [replicas.pixel_summary(p) for p in multi["pixel_values"]]}
    (HERE.parent / "goldens" / "maira2.json").write_text(json.dumps(golden, indent=1) + "\n")
    (HERE.parent / "goldens" / "maira2_multi_image.json").write_text(json.dumps(multi_golden, indent=1) + "\n")
    print(f"greedy lengths {[len(s['greedy_ids']) for s in studies]}, min margin/std "
          f"{golden['min_margin_over_std']:.2e}, min margin {golden['min_margin']:.2e}\n{text!r}\n{multi_text!r}")


if __name__ == "__main__":
    main()

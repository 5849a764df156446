"""Export a trained run: merge LoRA into the LM and write a standard transformers directory.

--format radzoo (default): OUT holds llm/ (save_pretrained of the merged LM + tokenizer), model.safetensors
(encoder and adapter weights) and recipe.yaml; `radzoo generate OUT --data ...` runs from it.
--format llava-hf: OUT is a transformers LlavaForConditionalGeneration directory with its processor; it
loads with transformers alone and says whether vLLM can serve it. Its chat template writes the BOS: use
apply_chat_template(tokenize=True) (or pass add_special_tokens=False when tokenizing text it rendered).
"""

from __future__ import annotations

import argparse

FORMATS = ("radzoo", "llava-hf")  # radzoo.interop.radzoo_export.EXPORT_FORMATS, kept here so --help imports no torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by `radzoo train`")
    parser.add_argument("--out", required=True, metavar="DIR", help="new directory to write the export to")
    parser.add_argument("--format", default="radzoo", choices=FORMATS,
                        help="radzoo: merged LM + radzoo weights (radzoo generate reads it); llava-hf: a "
                             "transformers LlavaForConditionalGeneration directory (CLIP/SigLIP/DINOv2 tower, "
                             "mlp2x_gelu adapter); its prompt ids and greedy reports are checked against "
                             "LLaVA-Rad's own code (docs/CONFORMANCE.md; other formats' exports unverified)")


def run(args: argparse.Namespace) -> int:
    if args.format == "llava-hf":
        from radzoo.interop.llava_hf.export import export_llava_hf  # start-up time: radzoo --help imports every command

        result = export_llava_hf(args.run_dir, args.out)
        print(f"exported {args.run_dir} -> {result.out} (transformers LlavaForConditionalGeneration, "
              f"{result.tower} tower; load the processor with "
              f"{result.load_processor_with.replace('DIR', repr(str(result.out)))})")
        if result.vllm_problems:
            print(f"vLLM: cannot serve it: {'; '.join(result.vllm_problems)} "
                  "(transformers loads it; vLLM's Transformers backend is untested)")
        else:
            trust = " --trust-remote-code" if "trust_remote_code" in result.load_processor_with else ""
            print(f"vLLM: can serve it ({result.tower} tower, 2-layer projector, 3 channels, as vLLM's LLaVA requires)"
                  f": vllm serve {result.out}{trust}")
        return 0
    from radzoo.interop.radzoo_export import export_run  # start-up time: radzoo --help imports every command
    from radzoo.runs.layout import RunDir

    out = export_run(args.run_dir, args.out)
    print(f"exported {args.run_dir} -> {out} (LM in {RunDir(out).llm_dir}; run `radzoo generate {out} --data ...`)")
    return 0

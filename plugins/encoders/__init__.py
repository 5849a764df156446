"""Built-in vision encoders; heavy libraries load only when a factory is called."""

from __future__ import annotations

import importlib

from radzoo import hookimpl


def _lazy(module: str, function: str):
    def factory(**args):
        return getattr(importlib.import_module(f"radzoo.plugins.encoders.{module}"), function)(**args)

    factory.__name__ = function
    return factory


# name -> (module, factory function, description, license, paper)
ENCODERS = {
    "biomedclip": ("open_clip_encoders", "build_biomedclip",
                   "BiomedCLIP ViT-B/16 @224 "
                   "(open_clip hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224)",
                   "MIT", "arXiv:2303.00915"),
    "biomedclip-cxr-518": ("open_clip_encoders", "build_biomedclip_cxr_518",
                           "LLaVA-Rad's BiomedCLIP-CXR ViT-B/14 @518, 1369 tokens, second-to-last block",
                           "MSRLA", "arXiv:2403.08002"),
    "clip": ("open_clip_encoders", "build_clip",
             "any open_clip or HF CLIP vision tower (e.g. ViT-L-14-336, SLaVA-CXR: 576 tokens)", "MIT",
             "arXiv:2103.00020"),
    "rad-dino": ("hf_encoders", "build_rad_dino", "RAD-DINO (transformers Dinov2, microsoft/rad-dino), MAIRA's encoder",
                 "MSRLA", "arXiv:2401.10815"),
    "cxr-llava-vit": ("cxr_llava", "build_cxr_llava_vit",
                      "CXR-LLaVA v2 ViT-L/16 @512 on 1-channel CXRs, 1024 tokens after ln_post", "CC-BY-NC-4.0",
                      "arXiv:2310.18341"),
    "timm": ("timm_encoder", "build_timm_encoder", "any timm model by name (in_chans 1 allowed)", "Apache-2.0", ""),
    "tiny-vit": ("timm_encoder", "build_tiny_vit", "tiny random timm ViT (tests, offline demo)", "Apache-2.0", ""),
}


@hookimpl
def radzoo_register_encoders(registry) -> None:
    for name, (module, function, description, license_, paper) in ENCODERS.items():
        registry.add(name, _lazy(module, function), description=description, license=license_, paper=paper)

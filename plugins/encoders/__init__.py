"""Built-in vision encoders; heavy libraries load only when a factory is called."""

from __future__ import annotations

from radzoo import hookimpl
from radzoo.components.registry import lazy

_HERE = "radzoo.plugins.encoders"


@hookimpl
def radzoo_register_encoders(registry) -> None:
    registry.add("biomedclip", lazy(f"{_HERE}.open_clip_encoders:build_biomedclip"),
                 description="BiomedCLIP ViT-B/16 @224 "
                 "(open_clip hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224)",
                 license="MIT", paper="arXiv:2303.00915", needs="weights",
                 weights_check=lazy(f"{_HERE}.weight_sources:check_biomedclip"))
    registry.add("biomedclip-cxr-518", lazy(f"{_HERE}.open_clip_encoders:build_biomedclip_cxr_518"),
                 description="LLaVA-Rad's BiomedCLIP-CXR ViT-B/14 @518, 1369 tokens, second-to-last block",
                 license="MSRLA", paper="arXiv:2403.08002", needs="weights",
                 weights_check=lazy(f"{_HERE}.weight_sources:check_biomedclip_cxr_518"))
    registry.add("clip", lazy(f"{_HERE}.open_clip_encoders:build_clip"),
                 description="any open_clip or HF CLIP vision tower (e.g. ViT-L-14-336, SLaVA-CXR: 576 tokens)",
                 license="MIT", paper="arXiv:2103.00020", needs="weights",
                 weights_check=lazy(f"{_HERE}.weight_sources:check_clip"))
    registry.add("rad-dino", lazy(f"{_HERE}.hf_encoders:build_rad_dino"),
                 description="RAD-DINO (transformers Dinov2, microsoft/rad-dino), MAIRA's encoder",
                 license="MSRLA", paper="arXiv:2401.10815", needs="weights",
                 weights_check=lazy(f"{_HERE}.weight_sources:check_rad_dino"))
    registry.add("cxr-llava-vit", lazy(f"{_HERE}.cxr_llava:build_cxr_llava_vit"),
                 description="CXR-LLaVA v2 ViT-L/16 @512 on 1-channel CXRs, 1024 tokens after ln_post",
                 license="CC-BY-NC-4.0", paper="arXiv:2310.18341", needs="weights",
                 weights_check=lazy(f"{_HERE}.weight_sources:check_cxr_llava_vit"))
    registry.add("timm", lazy(f"{_HERE}.timm_encoder:build_timm_encoder"),
                 description="any timm model by name (in_chans 1 allowed)", license="Apache-2.0",
                 paper="https://github.com/huggingface/pytorch-image-models",
                 tiny_args={"model_name": "vit_tiny_patch16_224", "image_size": 32, "patch_size": 8, "embed_dim": 32,
                            "depth": 2, "num_heads": 2})
    registry.add("tiny-vit", lazy(f"{_HERE}.timm_encoder:build_tiny_vit"),
                 description="tiny random timm ViT (tests, offline demo)", license="Apache-2.0",
                 paper="arXiv:2010.11929")

"""`radzoo import maira-2`: a tiny microsoft/maira-2 replica (old Llava layout, float32) vs MAIRA-2's forward.

The reference follows the official path with plain transformers: the processor's grey-level stretch then
BitImageProcessor, the prompt tokenized whole with ``<image>`` as a real token expanded to the image length,
a ``Dinov2Backbone``'s layer-normed last feature map without CLS, four Linears with GELU between them, and
the image features scattered into the image-token positions of the Llama embeddings.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from release_replicas import (
    hub_calls_fail,  # noqa: F401 (autouse: hub downloads raise)
    import_and_load,
    radzoo_logits_and_greedy,
    random_state,
    released_tensors,
    sample_image,
    write_llama_tokenizer,
    write_safetensors_shards,
)

PROMPT = ("You are an expert radiology assistant tasked with interpreting a chest X-ray study.  USER:  Given the "
          "current frontal image only<image> Provide a structured description of the findings in the radiology "
          "study in comparison to the prior frontal image. INDICATION: N/A TECHNIQUE: N/A COMPARISON: N/A "
          "ASSISTANT:")
ADDED = (["<obj>", "</obj>"] + [f"<{a}{i}>" for i in range(100) for a in "xy"]
         + ["<box>", "</box>", "<image>", "<prev_im>", "<lat_image>"])


def write_release(src):
    from transformers import (
        AutoTokenizer,
        BitImageProcessor,
        Dinov2Config,
        Dinov2Model,
        LlamaConfig,
        LlamaForCausalLM,
    )

    write_llama_tokenizer(src)
    tokenizer = AutoTokenizer.from_pretrained(src)
    tokenizer.add_tokens(ADDED, special_tokens=True)
    assert len(ADDED) == 207
    tokenizer.save_pretrained(src)
    # the text_config as a transformers 4.46 save writes it: rope_theta and a linear rope_scaling of 1.5
    text_fields = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048, bos_token_id=1,
                       eos_token_id=2, tie_word_embeddings=False, rope_theta=10000.0,
                       rope_scaling={"type": "linear", "factor": 1.5})
    text = LlamaConfig(**text_fields)
    vision = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, mlp_ratio=2, image_size=28,
                          patch_size=7, out_features=["stage2"], apply_layernorm=True, reshape_hidden_states=False)
    state = random_state([("language_model.", LlamaForCausalLM(text))], 21)
    state.update({f"vision_tower.{k}": v for k, v in released_tensors(Dinov2Model(vision), src / "tower").items()})
    dims = [(32, 32), (32, 32), (32, 32), (32, 32)]
    for i, (out_f, in_f) in enumerate(dims):
        state[f"multi_modal_projector.layers.{2 * i}.weight"] = torch.randn(out_f, in_f) * 0.3
        state[f"multi_modal_projector.layers.{2 * i}.bias"] = torch.randn(out_f) * 0.3
    assert len(state) == (9 * 2 + 3) + (5 + 18 * 2 + 2) + 8  # 9L+3 LLM, 5+18Lv+2 tower, 8 projector
    write_safetensors_shards(src, state, 3)
    image_token = tokenizer.convert_tokens_to_ids("<image>")
    config = {"architectures": ["Maira2ForConditionalGeneration"], "model_type": "maira2",
              "auto_map": {"AutoConfig": "configuration_maira2.Maira2Config",
                           "AutoModelForCausalLM": "modeling_maira2.Maira2ForConditionalGeneration"},
              "image_token_index": image_token, "image_seq_length": 16, "projector_hidden_act": "gelu",
              "projector_n_layers": 4, "multimodal_projector_bias": True, "vision_feature_layer": -1,
              "vision_feature_select_strategy": "default", "pad_token_id": 0,
              "text_config": {**text_fields, "model_type": "llama"},
              "vision_config": {**vision.to_dict(), "model_type": "dinov2"}}
    (src / "config.json").write_text(json.dumps(config))
    (src / "modeling_maira2.py").write_text("raise RuntimeError('remote code must never run')\n")
    BitImageProcessor(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28}, resample=3,
                      image_mean=[0.5307] * 3, image_std=[0.2583] * 3, do_convert_rgb=True).save_pretrained(src)
    return state, text, vision, image_token


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("maira2")
    replica = write_release(root / "maira-2")
    _, model, recipe = import_and_load("maira-2", root / "maira-2", root / "run")
    return root, replica, model, recipe


def stretched(image):
    """The processor's _normalize_image: grey, minus its minimum, over its maximum, times 255, to uint8."""
    from PIL import Image

    grey = np.array(image.convert("L")).astype(float)
    grey -= grey.min()
    grey /= grey.max()
    return Image.fromarray((grey * 255).astype(np.uint8)).convert("L")


def test_imported_maira2_matches_the_official_forward(imported):
    from transformers import AutoTokenizer, BitImageProcessor, Dinov2Backbone, LlamaForCausalLM

    root, (state, text, vision, image_token), model, recipe = imported
    assert (recipe.adapter.name, recipe.adapter.args.depth, recipe.encoder.args.rescale_intensity) == \
        ("mlp2x_gelu", 4, True)
    image = sample_image(60).point(lambda v: 40 + v // 3)  # a narrow grey range, so the stretch matters
    ref_pixels = BitImageProcessor.from_pretrained(root / "maira-2")(stretched(image),
                                                                      return_tensors="pt").pixel_values
    pixels = model.encoder.image_transform(False)(image)[None]
    # torchvision's and transformers' PIL bicubic resizes round a few pixels one grey level apart
    one_level = 1.001 / 255 / 0.2583
    torch.testing.assert_close(pixels, ref_pixels, atol=one_level, rtol=0)
    assert (pixels - ref_pixels).abs().gt(1e-5).float().mean() < 0.01
    assert model.prompt.render() == PROMPT
    ids, logits, greedy = radzoo_logits_and_greedy(model, ref_pixels, steps=8)
    tokenizer = AutoTokenizer.from_pretrained(root / "maira-2")
    expanded = PROMPT.replace("<image>", "<image>" * 16)
    ref_ids = tokenizer(expanded).input_ids
    assert [i for i in ref_ids if i != image_token] == [i for i in ids if i != -200]
    from safetensors.torch import save_file

    tower_dir = root / "reference-backbone"
    tower_dir.mkdir(exist_ok=True)
    vision.save_pretrained(tower_dir)
    save_file({k[len("vision_tower."):]: v for k, v in state.items() if k.startswith("vision_tower.")},
              tower_dir / "model.safetensors", metadata={"format": "pt"})
    backbone, info = Dinov2Backbone.from_pretrained(tower_dir, output_loading_info=True)
    assert not any(info.values())  # every released tensor in place, none left out
    backbone.eval()
    lm = LlamaForCausalLM(text).eval()
    lm.load_state_dict({k[len("language_model."):]: v for k, v in state.items() if k.startswith("language_model.")})
    with torch.no_grad():
        x = backbone(pixel_values=ref_pixels).feature_maps[-1][:, 1:]
        for i in range(4):
            x = x @ state[f"multi_modal_projector.layers.{2 * i}.weight"].T \
                + state[f"multi_modal_projector.layers.{2 * i}.bias"]
            x = torch.nn.functional.gelu(x) if i < 3 else x
        sequence = torch.tensor([ref_ids])
        embeds = lm.get_input_embeddings()(sequence)
        mask = (sequence == image_token)[..., None].expand_as(embeds)
        embeds = embeds.masked_scatter(mask, x)
        ref_logits = lm(inputs_embeds=embeds).logits[0]
        new = []
        for _ in range(8):
            token = int(lm(inputs_embeds=embeds).logits[0, -1].argmax())
            new.append(token)
            if token == 2:
                break
            embeds = torch.cat([embeds, lm.get_input_embeddings()(torch.tensor([[token]]))], dim=1)
    torch.testing.assert_close(logits, ref_logits, atol=1e-4, rtol=1e-4)
    assert greedy == new


def test_maira2_prompt_with_an_indication(imported):
    _, _, model, _ = imported
    assert model.prompt.render(indication="cough") == PROMPT.replace("INDICATION: N/A", "INDICATION: cough")


# the release's format_reporting_input for a study with all three images and its sections (processing_maira2.py)
FULL_PROMPT = ("You are an expert radiology assistant tasked with interpreting a chest X-ray study.  USER:  Given the "
               "current frontal image<image> the current lateral image<image> and the prior frontal image<image> "
               "PRIOR_REPORT: Small left effusion. Provide a structured description of the findings in the radiology "
               "study in comparison to the prior frontal image. INDICATION: Dyspnea. TECHNIQUE: PA and lateral. "
               "COMPARISON: N/A ASSISTANT:")


def full_study(root):
    from radzoo.data.study import Study, StudyImage

    paths = {}
    for i, name in enumerate(("frontal", "lateral", "prior")):
        paths[name] = root / f"{name}.png"
        sample_image(60 + 8 * i, seed=i).save(paths[name])
    return Study("s", str(paths["frontal"]), images=[StudyImage(str(paths["frontal"])),
                                                     StudyImage(str(paths["lateral"]), "lateral")],
                 sections={"indication": "Dyspnea.", "technique": "PA and lateral."},
                 prior=Study("p", str(paths["prior"]), "Small left effusion.")), paths


def test_the_full_reporting_prompt_reads_three_images_as_the_release_does(imported):
    from PIL import Image
    from transformers import AutoTokenizer, BitImageProcessor

    from radzoo.generation.pipeline import ReportGenerator, generation_kwargs

    root, (state, text, vision, image_token), model, recipe = imported
    study, paths = full_study(root)
    prompt, order = model.prompt.render_study(study)
    assert prompt == FULL_PROMPT and order == [str(paths[n]) for n in ("frontal", "lateral", "prior")]
    tokenizer = AutoTokenizer.from_pretrained(root / "maira-2")
    ref_ids = tokenizer(FULL_PROMPT.replace("<image>", "<image>" * 16)).input_ids
    run = ReportGenerator(model, generation_kwargs(recipe.generation), recipe.name)
    inputs = run.inputs([study])
    ids = inputs["input_ids"][0].tolist()
    assert [i for i in ref_ids if i != image_token] == [i for i in ids if i != -200] and ids.count(-200) == 3
    # every image through the tower and the projector, scattered into its own image-token positions in order
    processor = BitImageProcessor.from_pretrained(root / "maira-2")
    ref_pixels = torch.cat([processor(stretched(Image.open(paths[n])), return_tensors="pt").pixel_values
                            for n in ("frontal", "lateral", "prior")])
    with torch.no_grad():
        ours = model.encode_images(ref_pixels)
        embeds, _, _ = model.splice(inputs["input_ids"], inputs["attention_mask"], ours)
        reference = model.language_model.get_input_embeddings()(torch.tensor([ref_ids]).clamp(max=len(tokenizer) - 1))
        where = torch.tensor(ref_ids) == image_token
        reference[0, where] = ours.reshape(-1, ours.shape[-1])
    torch.testing.assert_close(embeds, reference)
    # a study with the frontal image alone gets the release's "frontal image only" wording and N/A sections
    alone = type(study)("a", str(paths["frontal"]))
    assert model.prompt.render_study(alone)[0] == PROMPT


def test_grounded_reporting_prompt_and_boxes_in_original_pixels(imported):
    from radzoo.generation.pipeline import ReportGenerator, generation_kwargs, load_model

    root, _, _, _ = imported
    model, recipe = load_model(root / "run", overrides=["generation.task=grounded_report"])
    study, paths = full_study(root)
    prompt, _ = model.prompt.render_study(study)
    assert "comparison to the prior frontal image. Each finding should be described as a self-contained " \
           "plain-text sentence. If the finding is groundable, locate the finding in the current frontal chest " \
           "X-ray image, with bounding boxes indicating all locations where it can be seen in the current frontal " \
           "image. Otherwise, generate just the ungrounded finding without bounding boxes. INDICATION: Dyspnea." \
           in prompt
    output = "<obj>Left pleural effusion.<box><x10><y20><x30><y45></box></obj><obj>No pneumothorax.</obj>"
    ids = torch.tensor([model.tokenizer(output, add_special_tokens=False).input_ids + [2]])
    record = ReportGenerator(model, generation_kwargs(recipe.generation), recipe.name).records([study], ids)[0]
    assert record["prediction"] == "Left pleural effusion. No pneumothorax."
    width, height = 78, 60  # sample_image(60): 60 rows, 78 columns; the crop is the centred 60 x 60 square
    assert record["image_size"] == [width, height]
    x0, y0, x1, y1 = (10.5 / 100 * 60 + 9, 20.5 / 100 * 60, 30.5 / 100 * 60 + 9, 45.5 / 100 * 60)
    assert record["grounding"] == [{"phrase": "Left pleural effusion.", "boxes": [[int(x0), int(y0), int(x1),
                                                                                    int(y1)]]},
                                   {"phrase": "No pneumothorax.", "boxes": []}]

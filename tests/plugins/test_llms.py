"""LLM plugins: the real loaders offline (tiny models saved in the real on-disk format) and prompt formats."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf

from radzoo.components.discovery import load_plugins
from radzoo.components.protocols import check_component
from radzoo.files.weights import WeightsNotFoundError
from radzoo.model.chat_formats import get_format
from radzoo.model.lora import apply_lora
from radzoo.model.prompting import IMAGE_TOKEN_INDEX, tokenize_prompt
from radzoo.plugins.llms.tiny import build_tiny_tokenizer

LLAMA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PHI_TARGETS = ["q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"]
HIDDEN, INTERMEDIATE, LAYERS = 32, 48, 2

# registry name -> (architecture, expected prompt format, expected LoRA targets, default hub id)
REFERENCE = {
    "vicuna-7b-v1.5": ("Llama", "vicuna_v1", LLAMA_TARGETS, "lmsys/vicuna-7b-v1.5"),
    "llama-2-7b-chat": ("Llama", "llama_2", LLAMA_TARGETS, "meta-llama/Llama-2-7b-chat-hf"),
    "phi-2": ("Phi", "phi", PHI_TARGETS, "microsoft/phi-2"),
    "mistral-7b-instruct": ("Mistral", "mistral_instruct", LLAMA_TARGETS, "mistralai/Mistral-7B-Instruct-v0.2"),
}


@pytest.fixture(scope="module")
def llm_registry():
    return load_plugins().registry("llm")


@pytest.fixture(scope="module")
def saved_llm(tmp_path_factory):
    """A tiny model of ``arch`` and its offline tokenizer, written with ``save_pretrained`` (built once)."""
    import transformers

    saved: dict[str, tuple[str, object, object]] = {}

    def get(arch: str):
        if arch not in saved:
            eos = "<|endoftext|>" if arch == "Phi" else "</s>"
            tokenizer = build_tiny_tokenizer(512, eos, add_bos=arch != "Phi")
            config = getattr(transformers, f"{arch}Config")(
                vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=INTERMEDIATE,
                num_hidden_layers=LAYERS, num_attention_heads=4, num_key_value_heads=4,
                bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
            torch.manual_seed(0)
            model = getattr(transformers, f"{arch}ForCausalLM")(config)
            folder = tmp_path_factory.mktemp(f"tiny-{arch.lower()}")
            model.save_pretrained(folder)
            tokenizer.save_pretrained(folder)
            saved[arch] = (str(folder), model, tokenizer)
        return saved[arch]

    return get


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _lora_count(targets: list[str], r: int) -> int:
    shapes = {"q_proj": (HIDDEN, HIDDEN), "k_proj": (HIDDEN, HIDDEN), "v_proj": (HIDDEN, HIDDEN),
              "o_proj": (HIDDEN, HIDDEN), "dense": (HIDDEN, HIDDEN), "gate_proj": (HIDDEN, INTERMEDIATE),
              "up_proj": (HIDDEN, INTERMEDIATE), "fc1": (HIDDEN, INTERMEDIATE),
              "down_proj": (INTERMEDIATE, HIDDEN), "fc2": (INTERMEDIATE, HIDDEN)}
    return LAYERS * r * sum(sum(shapes[t]) for t in targets)


@pytest.mark.parametrize("name", list(REFERENCE))
def test_reference_loader_reads_a_local_save_pretrained_directory(llm_registry, saved_llm, name):
    arch, prompt_format, targets, _ = REFERENCE[name]
    folder, original, tokenizer = saved_llm(arch)
    llm = llm_registry.create(name, path=folder)
    check_component("llm", name, llm)
    assert type(llm.model).__name__ == f"{arch}ForCausalLM"
    assert _same_weights(llm.model, original)
    assert llm.model.dtype == torch.float32 and llm.hidden_size == HIDDEN
    assert llm.prompt_format.name == prompt_format
    assert llm.lora_target_modules == targets
    text = "Small left pleural effusion."
    assert llm.tokenizer(text).input_ids == tokenizer(text).input_ids
    assert llm.tokenizer.pad_token is not None and llm.tokenizer.eos_token == tokenizer.eos_token
    apply_lora(llm, OmegaConf.create({"r": 2, "alpha": 4, "dropout": 0.0, "target_modules": None}))
    lora = sum(p.numel() for n, p in llm.model.named_parameters() if "lora_" in n)
    assert lora == _lora_count(targets, 2)


def test_reference_loader_takes_prompt_format_and_lora_targets_from_args(llm_registry, saved_llm):
    folder, _, _ = saved_llm("Llama")
    llm = llm_registry.create("vicuna-7b-v1.5", path=folder, prompt_format="plain",
                              lora_target_modules=["q_proj", "v_proj"], dtype="bf16")
    assert llm.prompt_format.name == "plain" and llm.lora_target_modules == ["q_proj", "v_proj"]
    assert llm.model.dtype == torch.bfloat16


def test_generic_hf_causal_lm_loads_any_local_model(llm_registry, saved_llm):
    folder, original, _ = saved_llm("Mistral")
    llm = llm_registry.create("hf-causal-lm", path=folder, prompt_format="llama_2")
    assert type(llm.model).__name__ == "MistralForCausalLM" and _same_weights(llm.model, original)
    assert llm.prompt_format.name == "llama_2" and llm.lora_target_modules == LLAMA_TARGETS


def test_reference_llm_from_a_local_path_builds_through_the_recipe(saved_llm):
    from radzoo import build_model, load_recipe
    from radzoo.model.smoke import smoke_step

    folder, original, _ = saved_llm("Phi")
    model = build_model(load_recipe("slava-cxr", ["encoder.name=tiny-vit", f"llm.args.path={folder}"]))
    assert _same_weights(model.language_model, original)
    assert math.isfinite(smoke_step(model))


def test_bad_dtype_names_the_key(llm_registry, saved_llm):
    folder, _, _ = saved_llm("Llama")
    with pytest.raises(ValueError, match="llm.args.dtype: 'float8' is not one of auto, float32"):
        llm_registry.create("vicuna-7b-v1.5", path=folder, dtype="float8")


@pytest.mark.parametrize("name", list(REFERENCE))
def test_missing_hub_model_says_how_to_provide_the_weights(llm_registry, name):
    hub_id = REFERENCE[name][3]
    with pytest.raises(WeightsNotFoundError) as info:
        llm_registry.create(name)
    message = str(info.value)
    assert f"cannot load language model '{hub_id}'" in message
    assert f"hf download {hub_id} --local-dir DIR" in message and "llm.args.path=DIR" in message


def test_missing_hub_model_for_the_generic_loader(llm_registry):
    with pytest.raises(WeightsNotFoundError, match="hf download someone/no-such-model"):
        llm_registry.create("hf-causal-lm", path="someone/no-such-model")


def test_missing_local_directory_is_named(llm_registry, tmp_path):
    missing = tmp_path / "vicuna-weights"
    with pytest.raises(WeightsNotFoundError, match="vicuna-weights") as info:
        llm_registry.create("vicuna-7b-v1.5", path=str(missing))
    message = str(info.value)
    assert str(missing) in message and "does not exist" in message
    assert "llm.args.path" in message and "hf download lmsys/vicuna-7b-v1.5 --local-dir DIR" in message


@pytest.mark.parametrize("path", ["./no-such-dir", "~/no-such-radzoo-weights", "weights/vicuna/v1.5"])
def test_missing_relative_directory_never_reaches_the_hub(llm_registry, path):
    with pytest.raises(WeightsNotFoundError) as info:
        llm_registry.create("hf-causal-lm", path=path)
    assert f"{path!r}" in str(info.value) and "does not exist" in str(info.value)
    assert "llm.args.path" in str(info.value)


# ------------------------------------------------------------------------------------------- tiny LLMs
@pytest.mark.parametrize(("name", "arch", "prompt_format"), [
    ("tiny-llama", "Llama", "vicuna_v1"), ("tiny-phi", "Phi", "phi"), ("tiny-mistral", "Mistral", "mistral_instruct"),
])
def test_tiny_llms_are_deterministic_offline_models_of_their_family(llm_registry, name, arch, prompt_format):
    first, second = llm_registry.create(name), llm_registry.create(name)
    assert type(first.model).__name__ == f"{arch}ForCausalLM"
    assert _same_weights(first.model, second.model)
    assert not _same_weights(first.model, llm_registry.create(name, seed=1).model)
    assert first.prompt_format.name == prompt_format
    text = "Mild cardiomegaly. No pneumothorax."
    ids = first.tokenizer(text, add_special_tokens=False).input_ids
    assert first.tokenizer.decode(ids) == text
    assert first.tokenizer.unk_token_id not in ids


def test_tiny_llm_reloads_from_its_saved_directory(llm_registry, tmp_path):
    llm = llm_registry.create("tiny-llama")
    llm.model.save_pretrained(tmp_path)
    llm.tokenizer.save_pretrained(tmp_path)
    again = llm_registry.create("tiny-llama", path=str(tmp_path))
    assert _same_weights(llm.model, again.model)


# --------------------------------------------------------------------------------------- prompt formats
VICUNA_SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
                 "The assistant gives helpful, detailed, and polite answers to the user's questions.")
QUESTION = "<image>\nWrite a findings report of this image:"


def llava_two(system: str, user: str, answer: str | None, eos: str) -> str:
    """LLaVA's ``SeparatorStyle.TWO`` (conv_vicuna_v1; LLaVA-Phi's conv_phi_v0 with sep2 <|endoftext|>)."""
    ret = system + " " + "USER: " + user + " "
    return ret + ("ASSISTANT: " + answer + eos if answer is not None else "ASSISTANT:")


def llava_llama_2(system: str, user: str) -> str:
    """LLaVA's ``SeparatorStyle.LLAMA_2`` prompt up to the answer (conv_llava_llama_2, conv_mistral_instruct)."""
    message = (f"<<SYS>>\n{system}\n<</SYS>>\n\n" if system else "") + user
    return f"[INST] {message} [/INST]"


@pytest.mark.parametrize(("name", "eos"), [("vicuna_v1", "</s>"), ("phi", "<|endoftext|>")])
@pytest.mark.parametrize("system", [None, "You are a radiologist."])
def test_vicuna_and_phi_formats_render_as_llava(name, eos, system):
    fmt = get_format(name)
    expected_system = VICUNA_SYSTEM if system is None else system
    assert fmt.render(QUESTION, system) == llava_two(expected_system, QUESTION, None, eos)
    answer = "The lungs are clear."
    assert fmt.render(QUESTION, system) + fmt.answer_prefix + answer + eos == llava_two(
        expected_system, QUESTION, answer, eos)


def test_llama_2_format_renders_the_system_block_as_llava():
    system = ("You are a helpful radiologist. Try to interpret chest x ray image and answer to the question "
              "that user provides.")
    rendered = get_format("llama_2").render(QUESTION, system)
    assert rendered == llava_llama_2(system, QUESTION)
    assert rendered == f"[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{QUESTION} [/INST]"


def test_llama_2_format_without_a_system_prompt_has_no_system_block():
    # LLaVA's LLAMA_2 style and Meta's chat format leave the <<SYS>> block out when there is no system text
    fmt = get_format("llama_2")
    assert fmt.render(QUESTION) == fmt.render(QUESTION, "") == "[INST] " + QUESTION + " [/INST]"
    assert fmt.render(QUESTION) == llava_llama_2("", QUESTION)


def test_mistral_instruct_format():
    fmt = get_format("mistral_instruct")
    assert fmt.render(QUESTION) == llava_llama_2("", QUESTION) == f"[INST] {QUESTION} [/INST]"
    # Mistral has no system role: the system text leads the user turn (Mistral's own chat template)
    assert fmt.render(QUESTION, "Be brief.") == f"[INST] Be brief.\n\n{QUESTION} [/INST]"


def test_plain_format_is_the_instruction_alone():
    fmt = get_format("plain")
    assert fmt.render(QUESTION, "ignored system") == QUESTION and fmt.answer_prefix == ""


def test_unknown_format_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown prompt format 'chatml'; known formats: vicuna_v1, llama_2, phi"):
        get_format("chatml")


def test_tokenize_prompt_puts_one_image_index_where_the_placeholder_is(llm_registry):
    tokenizer = llm_registry.create("tiny-llama").tokenizer
    prompt = get_format("vicuna_v1").render(QUESTION)
    ids = tokenize_prompt(tokenizer, prompt)
    p = ids.index(IMAGE_TOKEN_INDEX)
    before, after = prompt.split("<image>")
    assert ids.count(IMAGE_TOKEN_INDEX) == 1
    assert ids[:p] == tokenizer(before).input_ids and ids[0] == tokenizer.bos_token_id
    assert ids[p + 1:] == tokenizer(after, add_special_tokens=False).input_ids

"""The radzoo decode engine gives transformers' greedy tokens; its sampling is seeded; beams stay on hf."""

from __future__ import annotations

import pytest
import torch
from test_generate import INDICATION, make_studies

from radzoo import load_recipe
from radzoo.generation.decode_engine import causal_lm, pick_engine
from radzoo.generation.lean_decode_step import lean_step
from radzoo.generation.pipeline import ReportGenerator, generation_kwargs, load_model
from radzoo.generation.token_choice import ban_repeated_ngrams, keep_top_k, keep_top_p
from radzoo.recipe.load import RecipeError

# every bundled demo recipe (tiny llama, phi with no_repeat_ngram_size 3, llama-2 chat) and the mistral family
MODELS = {"demo/llava-rad": [], "demo/slava-cxr": [], "demo/cxr-llava": [],
          "mistral": ["llm.name=tiny-mistral", "llm.args={prompt_format: mistral_instruct}"]}


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    return make_studies(tmp_path_factory.mktemp("img"), 6)


def engines(name: str, extra: list[str] = ()) -> tuple[ReportGenerator, ReportGenerator]:
    """(hf, radzoo) generators of one model; ``name`` is a MODELS key."""
    recipe = "demo/llava-rad" if name == "mistral" else name
    model, cfg = load_model(recipe, overrides=[INDICATION, "generation.max_new_tokens=24", *MODELS[name], *extra])
    kwargs = generation_kwargs(cfg.generation)
    return (ReportGenerator(model, {**kwargs, "engine": "hf"}, cfg.name),
            ReportGenerator(model, {**kwargs, "engine": "radzoo"}, cfg.name))


def ids(run: ReportGenerator, studies, **override) -> torch.Tensor:
    run.gen_kwargs = {**run.gen_kwargs, **override}
    return run.generate_ids(run.inputs(studies))


@pytest.mark.parametrize("name", list(MODELS))
def test_greedy_tokens_equal_transformers_on_left_padded_batches(name, studies):
    hf, radzoo = engines(name)
    lengths = {int(m.sum()) for m in hf.inputs(studies)["attention_mask"]}
    assert len(lengths) > 1, "prompts of different lengths, so the batch is left-padded"
    expected = ids(hf, studies)
    assert expected.shape == (6, 24)
    assert lean_step(causal_lm(hf.model.language_model), 64) is not None  # the CPU fast path is the one tested
    assert torch.equal(ids(radzoo, studies), expected)
    assert torch.equal(ids(radzoo, studies[2:3]), ids(hf, studies[2:3]))  # batch 1, and a cache of another size
    if name == "demo/slava-cxr":
        assert radzoo.gen_kwargs["no_repeat_ngram_size"] == 3


@pytest.mark.parametrize("name", ["demo/llava-rad", "demo/slava-cxr"])
def test_rows_ending_at_different_steps_are_padded_and_cut_as_transformers(name, studies):
    # a random model rarely says its EOS within 24 tokens: take as EOS a token that it does say, at
    # different steps in different rows, so rows end apart (and one may never end)
    hf, radzoo = engines(name)
    free = ids(hf, studies)
    first_steps: dict[int, set[int]] = {}
    for row in free.tolist():
        for token in set(row):
            first_steps.setdefault(token, set()).add(row.index(token))
    eos = max(first_steps, key=lambda t: len(first_steps[t]))
    pad = hf.model.tokenizer.pad_token_id
    expected = ids(hf, studies, eos_token_id=eos)
    ends = [row.index(eos) for row in expected.tolist() if eos in row]
    assert len(set(ends)) > 1, "rows must end at different steps"
    for row in expected.tolist():
        if eos in row:
            assert set(row[row.index(eos) + 1:]) <= {pad}
    for every in (1, 5, 8, 64):  # however often the engine looks, it cuts where generate stops
        assert torch.equal(ids(radzoo, studies, eos_token_id=eos, eos_check_every=every), expected), every


def test_a_model_the_lean_step_does_not_know_decodes_through_its_own_forward(studies):
    hf, radzoo = engines("demo/llava-rad")
    lm = causal_lm(hf.model.language_model)
    lm.set_attn_implementation("eager")  # the lean step replays sdpa only
    assert lean_step(lm, 64) is None
    assert torch.equal(ids(radzoo, studies), ids(hf, studies))


def test_all_rows_ending_early_returns_fewer_columns(studies):
    hf, radzoo = engines("demo/llava-rad")
    first = int(ids(hf, studies[:1])[0, 3])  # the 4th token of the only row: it ends there
    expected = ids(hf, studies[:1], eos_token_id=first)
    assert expected.shape[1] <= 4
    assert torch.equal(ids(radzoo, studies[:1], eos_token_id=first), expected)


def test_repetition_penalty_and_min_new_tokens_match_transformers(studies):
    hf, radzoo = engines("demo/cxr-llava")
    first = int(ids(hf, studies[:2])[0, 1])
    settings = {"repetition_penalty": 1.3, "min_new_tokens": 6, "eos_token_id": first}
    expected = ids(hf, studies[:2], **settings)
    assert torch.equal(ids(radzoo, studies[:2], **settings), expected)


def test_no_repeat_ngram_ban_equals_transformers_processor():
    from transformers import NoRepeatNGramLogitsProcessor

    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 5, (4, 30), generator=gen)  # a 5-token vocabulary repeats n-grams often
    scores = torch.randn(4, 7, generator=gen)
    for size in (2, 3, 4):
        for step in range(0, 30):
            theirs = NoRepeatNGramLogitsProcessor(size)(tokens[:, :step], scores.clone())
            assert torch.equal(ban_repeated_ngrams(scores, tokens, step, size), theirs), (size, step)


def test_top_k_and_top_p_equal_transformers_warpers():
    from transformers import TopKLogitsWarper, TopPLogitsWarper

    scores = torch.randn(3, 50, generator=torch.Generator().manual_seed(1))
    assert torch.equal(keep_top_k(scores, 7), TopKLogitsWarper(7)(None, scores.clone()))
    for p in (0.3, 0.9):
        assert torch.equal(keep_top_p(scores, p), TopPLogitsWarper(p)(None, scores.clone()))


def test_seeded_sampling_is_reproducible(studies):
    sampled = ["generation.do_sample=true", "generation.temperature=1.5", "generation.top_p=0.95"]
    _, first = engines("demo/slava-cxr", [*sampled, "generation.seed=7"])
    _, again = engines("demo/slava-cxr", [*sampled, "generation.seed=7"])
    _, other = engines("demo/slava-cxr", [*sampled, "generation.seed=8"])
    a, b, c = ids(first, studies), ids(again, studies), ids(other, studies)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a, ids(first, studies))  # the stream goes on: the next batch draws new samples


def test_beams_on_the_radzoo_engine_are_a_recipe_error():
    with pytest.raises(RecipeError, match=r"llava-rad.yaml: generation.num_beams=3 needs generation.engine=hf"):
        load_recipe("demo/llava-rad", ["generation.engine=radzoo", "generation.num_beams=3"])  # at load
    cfg = load_recipe("demo/llava-rad", ["generation.num_beams=3"])
    cfg.generation.engine = "radzoo"  # set after loading: generate still refuses it
    with pytest.raises(RecipeError, match=r"num_beams=3 needs generation.engine=hf"):
        generation_kwargs(cfg.generation)
    with pytest.raises(RecipeError, match=r"eos_check_every must be at least 1"):
        load_recipe("demo/llava-rad", ["generation.eos_check_every=0"])
    auto = generation_kwargs(load_recipe("demo/llava-rad", ["generation.num_beams=3"]).generation)
    assert pick_engine(auto, torch.device("cpu")) == "hf"  # auto keeps beams on transformers
    with pytest.raises(RecipeError, match=r"generation.engine.*Allowed values: auto, hf, radzoo"):
        load_recipe("demo/llava-rad", ["generation.engine=fast"])


def test_auto_picks_radzoo_on_cpu_and_hf_on_cuda_until_gpu_figures_exist():
    kwargs = generation_kwargs(load_recipe("demo/llava-rad").generation)
    assert kwargs["engine"] == "auto"
    assert pick_engine(kwargs, torch.device("cpu")) == "radzoo"
    assert pick_engine(kwargs, torch.device("cuda")) == "hf"
    assert pick_engine({"max_new_tokens": 4}, torch.device("cpu")) == "hf"  # plain generate kwargs: transformers


@pytest.mark.slow
@pytest.mark.parametrize("name", ["demo/llava-rad", "demo/slava-cxr", "demo/cxr-llava"])
def test_greedy_tokens_equal_transformers_at_batch_32(name, tmp_path):
    """The batch size bench/generate_bench.py times (where most reports are written on a CPU)."""
    many = make_studies(tmp_path, 32)
    hf, radzoo = engines(name)
    expected = ids(hf, many)
    got = ids(radzoo, many)
    assert got.shape[0] == 32 and torch.equal(got, expected)
    got[0, 0] = got[0, 0]  # an ordinary tensor: the engine's inference-mode result is handed out as a copy
    assert not got.is_inference()

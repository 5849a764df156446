"""`radzoo serve` of a multi-image recipe, driven by the `openai` client: one message carries the frontal and the
lateral image (each part labelled with its view) and the prior report; the report equals `radzoo generate`'s."""

from __future__ import annotations

import numpy as np
import openai
import pytest
from serve_process import TOKENS, ServerProcess, data_url, png_bytes

from radzoo.cli import main

RECIPE, MODEL = "demo/multi-image", "demo-multi-image"
PRIOR = "Small left pleural effusion."


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve_multi")
    rng = np.random.default_rng(3)
    paths = {}
    for name, shape in (("frontal", (72, 64)), ("lateral", (64, 70))):
        paths[name] = folder / f"{name}.png"
        paths[name].write_bytes(png_bytes((rng.random(shape) * 255).astype("uint8")))
    return paths


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    served = ServerProcess(tmp_path_factory.mktemp("serve") / "server.log", source=RECIPE)
    yield served
    served.stop()


def part(path, view: str | None) -> dict:
    return {"type": "image_url", "image_url": {"url": data_url(path.read_bytes())}, **({"view": view} if view else {})}


@pytest.mark.slow
def test_two_images_and_a_prior_report_in_one_message_equal_radzoo_generate(server, images, capsys):
    assert main(["generate", RECIPE, f"generation.max_new_tokens={TOKENS}", "--image", str(images["frontal"]),
                 "--lateral", str(images["lateral"]), "--prior-report", PRIOR]) == 0
    expected = capsys.readouterr().out.strip()
    client = server.client()
    # the lateral first, labelled: the view keys, not the order, give the roles
    content = [part(images["lateral"], "lateral"), part(images["frontal"], "frontal"),
               {"type": "text", "text": f"Prior report: {PRIOR}"}]
    answer = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}])
    assert answer.choices[0].message.content == expected
    # unlabelled images take frontal, lateral in order: the same study
    content = [part(images["frontal"], None), part(images["lateral"], None), content[2]]
    again = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}])
    assert again.choices[0].message.content == expected
    single = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content[:1]}])
    assert single.usage.prompt_tokens < answer.usage.prompt_tokens  # one image's tokens fewer, no prior report


@pytest.mark.slow
def test_a_bad_view_is_refused_by_name(server, images):
    content = [part(images["frontal"], "frontal"), part(images["lateral"], "frontal")]
    with pytest.raises(openai.APIStatusError) as caught:
        server.client().chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}])
    assert caught.value.code == "duplicate_view" and "two images are the frontal image" in caught.value.body["message"]

"""A tiny random RadGraph model in the on-disk layout the ``radgraph`` package (0.1.18) loads from a local folder:
``<dir>/config.json`` (the DyGIE config: reader, BERT embedder, modules), ``<dir>/vocabulary/`` (allennlp
Vocabulary files with the ``radgraph__ner_labels`` and ``radgraph__relation_labels`` namespaces) and
``<dir>/weights.th`` (the DyGIE state dict), plus a tiny BERT saved locally for the config to name. The model
is built with the package's own classes, so its state dict has exactly the keys the package loads strictly."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import torch

from radzoo.plugins.evaluators.radgraph_compat import restore_tokenizer_methods

ENTITY_LABELS = ("ANAT-DP", "OBS-DP", "OBS-DA", "OBS-U")
RELATION_LABELS = ("modify", "located_at", "suggestive_of")
WORDS = ("no", "normal", "heart", "size", "lungs", "are", "clear", "there", "is", "pleural", "effusion", "left",
         "right", "small", "moderate", "large", "pneumothorax", "edema", "focal", "consolidation", "cardiomegaly",
         "mild", "lower", "lobe", "atelectasis", ".", ",", "-", "the", "of", "in", "with", "and", "or", "tube",
         "a", "b", "1", "2")  # allennlp probes the tokenizer with "a"/"b" and "1"/"2"


def _config(bert_dir: Path) -> dict:
    bert = {"model_name": str(bert_dir), "max_length": 512}
    return {
        "dataset_reader": {"type": "dygie", "max_span_width": 3,
                           "token_indexers": {"bert": {"type": "pretrained_transformer_mismatched", **bert}}},
        "model": {"type": "dygie", "embedder": {"token_embedders": {"bert": {
                      "type": "pretrained_transformer_mismatched", **bert}}},
                  "feature_size": 8, "max_span_width": 3, "target_task": "relation",
                  "feedforward_params": {"num_layers": 2, "hidden_dims": 16, "dropout": 0.4},
                  "initializer": {"regexes": []}, "module_initializer": {"regexes": []},
                  "loss_weights": {"ner": 1.0, "relation": 1.0, "coref": 0.0, "events": 0.0},
                  "modules": {"ner": {}, "relation": {"spans_per_word": 0.5},
                              "coref": {"spans_per_word": 0.3, "max_antecedents": 10, "coref_prop": 0},
                              "events": {"trigger_spans_per_word": 0.3, "argument_spans_per_word": 0.8,
                                         "loss_weights": {"trigger": 1.0, "arguments": 0.5}}}},
    }


def save_tiny_radgraph(root: Path, seed: int = 0) -> tuple[Path, Path]:
    """(model dir, bert dir): the model dir holds config.json, vocabulary/ and weights.th; the config names the
    BERT by its local path, as the package reads it."""
    from radgraph.allennlp.data import Vocabulary
    from radgraph.allennlp.modules import text_field_embedders, token_embedders
    from radgraph.dygie.models import dygie
    from transformers import BertConfig, BertModel, BertTokenizer

    restore_tokenizer_methods()  # building uses the package's classes too (a no-op under transformers 4)
    bert_dir, model_dir = root / "tiny-bert", root / "radgraph"
    bert_dir.mkdir(parents=True)
    (model_dir / "vocabulary").mkdir(parents=True)
    (bert_dir / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    # positional: transformers 4 calls it vocab_file, 5 vocab
    BertTokenizer(str(bert_dir / "vocab.txt")).save_pretrained(str(bert_dir))
    BertModel(BertConfig(vocab_size=len(WORDS) + 5, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=512)).save_pretrained(str(bert_dir))
    vocab = Vocabulary()
    for namespace, labels in (("radgraph__ner_labels", ENTITY_LABELS), ("radgraph__relation_labels",
                                                                       RELATION_LABELS)):
        for label in ("", *labels):  # "" first: DyGIE's null label is index 0
            vocab.add_token_to_namespace(label, namespace)
    vocab.save_to_files(str(model_dir / "vocabulary"))
    config = _config(bert_dir)
    (model_dir / "config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    bert = token_embedders.PretrainedTransformerMismatchedEmbedder(model_name=str(bert_dir), max_length=512)
    embedder = text_field_embedders.BasicTextFieldEmbedder({"bert": bert})
    settings = {k: v for k, v in config["model"].items() if k not in ("type", "embedder", "initializer",
                                                                      "module_initializer")}
    model = dygie.DyGIE(vocab=Vocabulary.from_files(str(model_dir / "vocabulary")), embedder=embedder, **settings)
    state = model.state_dict()
    for name, tensor in state.items():  # each weight from its own name: the same under transformers 4 and 5
        if tensor.is_floating_point():
            rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
            tensor.copy_(torch.from_numpy(rng.normal(0.0, 1.0, tuple(tensor.shape))))
    torch.save(state, model_dir / "weights.th")
    return model_dir, bert_dir

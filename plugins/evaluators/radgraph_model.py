"""Runs the RadGraph model on report text through the ``radgraph`` package (PyPI radgraph 0.1.18), from LOCAL files.

The package downloads ``StanfordAIMI/RRG_scorers/<model>.tar.gz`` into its cache when the model folder is empty;
radzoo never lets it: ``model_path`` must already hold the extracted archive (``config.json``, ``vocabulary/``,
``weights.th``), and the BERT that ``config.json`` names (its config and tokenizer; the weights come from
``weights.th``) is read from ``bert_path`` when given, else from the Hugging Face cache. The folder is not
changed: radzoo stages links to it, with ``config.json`` pointing at ``bert_path``, in a temporary folder laid
out as the package expects (``<cache>/<model_type>/``). ReXrank's ``radgraph_combined`` uses ``radgraph`` (the
original RadGraph model of CXR-Report-Metric; RadEval's RadCliQ too); ``radgraph-xl`` is RadEval's default.
Under transformers 5 the package needs two tokenizer methods put back first (radgraph_compat.py).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from radzoo.errors import InputError, MissingFileError
from radzoo.plugins.evaluators.radgraph_compat import restore_tokenizer_methods

MODEL_TYPES = ("radgraph", "radgraph-xl", "modern-radgraph-xl")
MODEL_FILES = ("config.json", "vocabulary", "weights.th")


def how_to_get(model_type: str) -> str:
    """The one-line recipe for the model files."""
    return (f"download {model_type}.tar.gz from the hub repo StanfordAIMI/RRG_scorers (hf download "
            f"StanfordAIMI/RRG_scorers {model_type}.tar.gz), extract it into DIR and pass "
            "--option radgraph.model_path=DIR (plus radgraph.bert_path=the BERT its config.json names, saved "
            "locally, when that is not in the Hugging Face cache)")


class RadGraphModel:
    """``annotate(reports) -> [annotation]`` (``{"text", "entities"}`` as the radgraph package writes them)."""

    def __init__(self, model_path: str, model_type: str = "radgraph", bert_path: str | None = None,
                 device: str = "cpu") -> None:
        if model_type not in MODEL_TYPES:
            raise InputError(f"radgraph: model_type={model_type!r} is not one of {', '.join(MODEL_TYPES)}")
        folder = Path(model_path).expanduser()
        missing = [name for name in MODEL_FILES if not (folder / name).exists()]
        if missing:
            raise MissingFileError(f"radgraph: {folder} lacks {', '.join(missing)}; {how_to_get(model_type)}")
        if bert_path and not Path(bert_path).expanduser().is_dir():
            raise MissingFileError(f"radgraph: bert_path {bert_path} is not a folder; save the BERT named in "
                                   f"{folder / 'config.json'} there with save_pretrained (config and tokenizer)")
        try:
            from radgraph import RadGraph  # optional package (radzoo[rexrank]); slow to import
        except ImportError:
            raise InputError("radgraph: running the RadGraph model needs the radgraph package: "
                             "pip install 'radzoo[rexrank]'") from None
        self.model_path, self.model_type, self.bert_path = folder, model_type, bert_path
        self._staging = tempfile.TemporaryDirectory(prefix="radzoo-radgraph-")
        staged = Path(self._staging.name) / model_type
        staged.mkdir()
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if bert_path:
            local = str(Path(bert_path).expanduser().resolve())
            config["dataset_reader"]["token_indexers"]["bert"]["model_name"] = local
            config["model"]["embedder"]["token_embedders"]["bert"]["model_name"] = local
        (staged / "config.json").write_text(json.dumps(config), encoding="utf-8")
        for name in MODEL_FILES[1:]:
            (staged / name).symlink_to((folder / name).resolve())
        cuda = -1 if device == "cpu" else int(str(device).partition(":")[2] or 0)
        restore_tokenizer_methods()
        self._model = RadGraph(model_type=model_type, model_cache_dir=self._staging.name, cuda=cuda)

    def describe(self) -> dict[str, Any]:
        return {"model_path": str(self.model_path), "model_type": self.model_type, "bert_path": self.bert_path}

    def annotate(self, reports: Sequence[str]) -> list[dict[str, Any]]:
        """One annotation per report, in order (the package numbers its output "0".."n-1")."""
        if not reports:
            return []
        output = self._model(list(reports))
        return [output[str(i)] for i in range(len(reports))]

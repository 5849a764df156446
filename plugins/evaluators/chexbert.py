"""CheXbert (Smit et al. 2020): BERT-base + 14 linear heads labelling the CheXpert observations, from a LOCAL
``chexbert.pth``, and the ``chexbert`` F1 evaluator (same outputs as ``chexpert``, named ``chexbert_*``).

Layout of ``chexbert.pth`` (stanfordmlgroup/CheXbert ``bert_labeler``): a dict whose ``model_state_dict``
holds ``bert.*`` (a BertModel, pooler included) and ``linear_heads.0..13.{weight,bias}``; heads 0-12 have
4 classes (blank, positive, negative, uncertain), head 13 (No Finding) 2 (blank, positive); keys may carry
the ``module.`` prefix of DataParallel. Reports are cleaned and tokenised as CheXbert's bert_tokenizer.py
does (whitespace collapsed, [CLS] ... [SEP], at most 512 tokens, an empty report is [CLS][SEP]).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from radzoo.data.labels import CHEXPERT_OBSERVATIONS as CONDITIONS  # the order of CheXbert's heads
from radzoo.data.labels import OBSERVATIONS
from radzoo.errors import InputError, MissingFileError
from radzoo.files.torch_files import load_weights_only
from radzoo.plugins.evaluators.chexpert_f1 import CheXpertF1Evaluator

CLASS_TO_LABEL = (None, 1.0, 0.0, -1.0)  # CheXbert classes blank, positive, negative, uncertain
MAX_TOKENS = 512
WEIGHTS_HELP = ("download chexbert.pth from the CheXbert authors (stanfordmlgroup/CheXbert README, or "
                "StanfordAIMI/RRG_scorers on the Hugging Face hub) on a machine with network access, copy it "
                "here, and set the option checkpoint_path")


class CheXbertModel(nn.Module):
    """``bert_labeler``: BERT, dropout, 13 four-class heads and the two-class No Finding head."""

    def __init__(self, config: Any) -> None:
        from transformers import BertModel

        super().__init__()
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(0.1)
        hidden = config.hidden_size
        self.linear_heads = nn.ModuleList([nn.Linear(hidden, 4) for _ in range(13)] + [nn.Linear(hidden, 2)])

    def cls_embedding(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[B, hidden]: the last layer's [CLS] state (the embedding RadCliQ compares)."""
        return self.bert(input_ids, attention_mask=attention_mask)[0][:, 0, :]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[torch.Tensor]:
        cls = self.dropout(self.cls_embedding(input_ids, attention_mask))
        return [head(cls) for head in self.linear_heads]


def _bert_config(bert_path: Path) -> Any:
    from transformers import BertConfig

    # bert-base-uncased is BertConfig's default; a local config.json (e.g. a tiny test model) wins.
    return BertConfig.from_pretrained(str(bert_path)) if (bert_path / "config.json").is_file() else BertConfig()


def load_state(checkpoint_path: Path, model: nn.Module) -> None:
    """Load ``chexbert.pth`` into ``model`` strictly; ``module.`` prefixes and stale buffers are tolerated."""
    try:
        checkpoint = load_weights_only(checkpoint_path)
    except ValueError as exc:
        raise InputError(f"chexbert: {exc}; {WEIGHTS_HELP}") from None
    state = checkpoint.get("model_state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise InputError(f"chexbert: {checkpoint_path} holds no state dict (expected key 'model_state_dict')")
    state = {key.removeprefix("module."): value for key, value in state.items()}
    expected = model.state_dict()
    # transformers < 4.31 saved position_ids as a persistent buffer; newer models do not keep it.
    state = {k: v for k, v in state.items() if k in expected or not k.endswith("position_ids")}
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise InputError(f"chexbert: {checkpoint_path} does not match the CheXbert layout (bert.*, "
                         f"linear_heads.0-13.*): missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.load_state_dict(state)


class CheXbertLabeler:
    """CheXpert labels (1.0 / 0.0 / -1.0 / None, in OBSERVATIONS order) and [CLS] embeddings of reports."""

    def __init__(self, checkpoint_path: str | None = None, bert_path: str | None = None, device: str = "cpu",
                 batch_size: int = 16) -> None:
        if not checkpoint_path:
            raise InputError(f"chexbert needs its weights: set the option checkpoint_path to chexbert.pth; "
                             f"{WEIGHTS_HELP}")
        checkpoint = Path(checkpoint_path).expanduser()
        if not checkpoint.is_file():
            raise MissingFileError(f"chexbert: weights file {checkpoint} not found; {WEIGHTS_HELP}")
        if not bert_path or not Path(bert_path).expanduser().is_dir():
            raise MissingFileError(
                f"chexbert: option bert_path={bert_path!r} must be a local directory holding the bert-base-uncased "
                "tokenizer (vocab.txt, tokenizer_config.json; save it with AutoTokenizer.save_pretrained)")
        from transformers import AutoTokenizer

        self.checkpoint_path, self.bert_path = checkpoint, Path(bert_path).expanduser()
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.bert_path))
        self.model = CheXbertModel(_bert_config(self.bert_path))
        load_state(checkpoint, self.model)
        self.device, self.batch_size = torch.device(device), int(batch_size)
        self.model.to(self.device).eval()
        self.max_tokens = min(MAX_TOKENS, self.model.bert.config.max_position_embeddings)
        self._order = [CONDITIONS.index(name) for name in OBSERVATIONS]

    def _encode(self, report: str) -> list[int]:
        text = re.sub(r"\s+", " ", report.replace("\n", " ")).strip()
        tokens = self.tokenizer.tokenize(text)
        if not tokens:
            return [self.tokenizer.cls_token_id, self.tokenizer.sep_token_id]
        ids = self.tokenizer.convert_tokens_to_ids(tokens)
        ids = [self.tokenizer.cls_token_id, *ids, self.tokenizer.sep_token_id]
        return ids if len(ids) <= self.max_tokens else [*ids[: self.max_tokens - 1], self.tokenizer.sep_token_id]

    def _batches(self, reports: Sequence[str]):
        for start in range(0, len(reports), self.batch_size):
            encoded = [torch.tensor(self._encode(r)) for r in reports[start:start + self.batch_size]]
            ids = nn.utils.rnn.pad_sequence(encoded, batch_first=True, padding_value=0)  # CheXbert PAD_IDX
            mask = torch.zeros_like(ids, dtype=torch.float)
            for row, sequence in enumerate(encoded):
                mask[row, : len(sequence)] = 1.0
            yield ids.to(self.device), mask.to(self.device)

    @torch.no_grad()
    def label(self, reports: Sequence[str]) -> list[list[float | None]]:
        """[n][14] CheXpert labels in OBSERVATIONS order (the chexpert-labeler values)."""
        classes = [torch.stack([h.argmax(dim=1) for h in self.model(ids, mask)], dim=1).cpu()
                   for ids, mask in self._batches(reports)]
        table = torch.cat(classes).tolist() if classes else []
        return [[CLASS_TO_LABEL[row[i]] for i in self._order] for row in table]

    @torch.no_grad()
    def embed(self, reports: Sequence[str]) -> np.ndarray:
        """[n, hidden] float64 [CLS] embeddings."""
        parts = [self.model.cls_embedding(ids, mask).double().cpu().numpy() for ids, mask in self._batches(reports)]
        return np.concatenate(parts) if parts else np.zeros((0, self.model.bert.config.hidden_size))


class CheXbertF1Evaluator(CheXpertF1Evaluator):
    """The ``chexpert`` F1 metrics (14/5, micro/macro, uncertain policy) from CheXbert's labels."""

    name = "chexbert"
    version = "1"

    def __init__(self, checkpoint_path: str | None = None, bert_path: str | None = None, uncertain: str = "positive",
                 zero_division: float = 0.0, device: str = "cpu", batch_size: int = 16) -> None:
        super().__init__(uncertain=uncertain, zero_division=zero_division)
        self.metric_names = tuple(m.replace("chexpert_", "chexbert_", 1) for m in self.metric_names)
        self.higher_is_better = {m: True for m in self.metric_names}
        self.labeler = CheXbertLabeler(checkpoint_path, bert_path, device=device, batch_size=batch_size)

    def options(self) -> dict[str, Any]:
        return {**super().options(), "labeler": "chexbert", "checkpoint_path": str(self.labeler.checkpoint_path)}

    def label(self, reports: Sequence[str]) -> list[list[float | None]]:
        """CheXbert's labels (the statistics are ``chexpert``'s, from these labels)."""
        return self.labeler.label(reports)

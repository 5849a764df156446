"""Tiny random RaTEScore models in the layout the ``ratescore`` package (0.6.0) loads from local folders: a DeBERTa-v2
token classifier with RaTE's entity labels (as Angelakeke/RaTE-NER-Deberta) and an MPNet encoder (as
FremyCompany/BioLORD-2023-C), each with a small WordPiece tokenizer (sentencepiece is not needed this way)."""

from __future__ import annotations

from pathlib import Path

import torch

TYPES = ("ABNORMALITY", "ANATOMY", "DISEASE", "NON-ABNORMALITY", "NON-DISEASE")
LABELS = ("O", *(f"{prefix}-{kind}" for kind in TYPES for prefix in ("B", "I")))
WORDS = ("no", "normal", "heart", "size", "lungs", "are", "clear", "there", "is", "pleural", "effusion", "left",
         "right", "small", "moderate", "large", "pneumothorax", "edema", "focal", "consolidation", "cardiomegaly",
         "mild", "lower", "lobe", "atelectasis", ".", ",", "the", "of", "in", "with", "and", "or", "a", "lung", "base")


def _vocab(folder: Path) -> Path:
    folder.mkdir(parents=True)
    path = folder / "vocab.txt"
    path.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n", encoding="utf-8")
    return path


def save_tiny_ratescore(root: Path, seed: int = 0) -> tuple[Path, Path]:
    """(ner folder, synonym folder), each with config.json, model weights and tokenizer files."""
    from transformers import (
        BertTokenizer,
        DebertaV2Config,
        DebertaV2ForTokenClassification,
        MPNetConfig,
        MPNetModel,
        MPNetTokenizer,
    )

    torch.manual_seed(seed)
    ner, synonym = root / "rate-ner-tiny", root / "biolord-tiny"
    BertTokenizer(str(_vocab(ner))).save_pretrained(str(ner))  # positional: vocab_file (4) / vocab (5)
    config = DebertaV2Config(vocab_size=len(WORDS) + 5, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=32, max_position_embeddings=512, num_labels=len(LABELS),
                             id2label=dict(enumerate(LABELS)), label2id={v: k for k, v in enumerate(LABELS)})
    model = DebertaV2ForTokenClassification(config)
    with torch.no_grad():  # a classifier spread enough that tokens get every label, not only "O"
        model.classifier.weight.normal_(0.0, 2.0)
    model.save_pretrained(str(ner))
    special = {"bos_token": "[CLS]", "cls_token": "[CLS]", "eos_token": "[SEP]", "sep_token": "[SEP]",
               "unk_token": "[UNK]", "pad_token": "[PAD]", "mask_token": "[MASK]"}  # all inside the tiny vocab
    MPNetTokenizer(str(_vocab(synonym)), **special).save_pretrained(str(synonym))
    MPNetModel(MPNetConfig(vocab_size=len(WORDS) + 5, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=32, max_position_embeddings=64,
                           pad_token_id=0)).save_pretrained(str(synonym))
    return ner, synonym

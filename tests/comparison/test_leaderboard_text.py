"""leaderboard.md read unrendered: a headline table and a metrics table, padded columns, defined metrics, p floor."""

from __future__ import annotations

from radzoo.comparison.leaderboard import LeaderboardRow, MetricCell, p_text, to_markdown


def _rows() -> list[LeaderboardRow]:
    def cells(f1: float, bleu: float, p: float | None) -> dict[str, MetricCell]:
        return {"chexpert_micro_f1_14": MetricCell(f1, f1 - 0.1, f1 + 0.1, True, p),
                "bleu_4": MetricCell(bleu, bleu - 0.05, bleu + 0.05, True, p)}

    return [LeaderboardRow("model", "learned", metrics=cells(0.6, 0.2, None), efficiency={"params_total": 1000}),
            LeaderboardRow("retrieval", "baseline", metrics=cells(0.5, 0.3, 1 / 1001)),
            LeaderboardRow("constant", "baseline", metrics=cells(0.55, 0.1, 0.2))]


def test_p_value_at_the_resampling_floor_reads_below_a_thousandth() -> None:
    assert p_text(1 / 1001) == "< 0.001" and p_text(0.0123) == "0.012" and p_text(None) == "–"


def test_markdown_splits_headline_and_metrics_and_defines_the_columns() -> None:
    text = to_markdown(_rows(), ["chexpert_micro_f1_14", "bleu_4"], "chexpert_micro_f1_14")
    headline, metrics = text.split("## Every metric")
    assert "## Headline: chexpert_micro_f1_14" in headline and "bleu_4" not in headline
    assert "| retrieval " in headline and "< 0.001" in headline and "0.200" in headline
    assert "**0.600 [0.500, 0.700]**" in headline and "0.550 [0.450, 0.650] ≈" in headline
    assert "bleu_4 ↑" in metrics and "**0.300 [0.250, 0.350]**" in metrics
    assert "chexpert_{micro,macro}_f1_{14,5}: F1 of the CheXpert labels" in metrics and "bleu_1..4" in metrics
    table = [line for line in headline.splitlines() if line.startswith("|")]
    assert len({len(line) for line in table}) == 1  # padded: every line of the table is as long

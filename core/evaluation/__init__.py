"""Evaluation: score predictions with registered evaluators; bootstrap CIs and paired tests."""

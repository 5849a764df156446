"""Comparison: compare recipes and runs, baselines, leaderboard, plots, viewer, the demo."""

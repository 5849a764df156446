"""Which generation settings the radzoo decode engine cannot run: checked when a recipe loads, without torch."""

from __future__ import annotations


def engine_problem(engine: str, num_beams: int, eos_check_every: int) -> str | None:
    """Why these generation settings cannot run (beams on the radzoo engine, a bad EOS interval), or None."""
    if engine == "radzoo" and num_beams > 1:
        return (f"generation.num_beams={num_beams} needs generation.engine=hf (the radzoo engine decodes greedily "
                f"or by sampling); set generation.engine=hf or generation.num_beams=1")
    if eos_check_every < 1:
        return f"generation.eos_check_every must be at least 1, got {eos_check_every}"
    return None

"""The parts of a RadiologyVLM a training stage may train: declared here (no torch), read by the recipe schema."""

PARTS: tuple[str, ...] = ("encoder", "encoder_head", "adapter", "llm", "lora")

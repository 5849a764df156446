"""transformers' LlavaForConditionalGeneration format: export a run to it, import a directory in it."""

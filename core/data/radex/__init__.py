"""RADEX-style synthesis: instruction data written by an LLM from de-identified public case descriptions."""

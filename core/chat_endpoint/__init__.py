"""An OpenAI-compatible chat endpoint: a client with bounded, visible retries (``judge_client``) and an on-disk
cache of its answers (``judge_cache``), shared by the LLM-judge evaluators and by RADEX-style data synthesis."""

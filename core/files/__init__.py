"""Files: atomic writers, resumable JSONL, safe weights I/O."""

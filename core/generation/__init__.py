"""Generation: batched KV-cache report generation, decode engines, sharding."""

"""``radzoo serve``: an OpenAI-compatible chat-completions endpoint that writes a report for an image.

FastAPI + uvicorn (the ``serve`` extra). Requests are parsed and checked in ``chat_request``, images
decoded in ``image_input``, batched in ``batcher`` and run through ``radzoo.generation.pipeline.ReportGenerator``
in ``report_runner`` (one model thread), streamed as OpenAI chunks by ``sse``; ``app`` ties them together.
"""

"""OpenAI chat-completion bodies: the whole answer, and the server-sent-event chunks of a streamed one."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from radzoo.serving.report_runner import Report


class Completion:
    """Ids and timestamps shared by one request's answer or chunks."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model

    def body(self, report: Report) -> dict[str, Any]:
        """The ``chat.completion`` object for a finished report."""
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": report.text},
                             "finish_reason": report.finish_reason, "logprobs": None}],
                "usage": usage(report)}

    def chunk(self, delta: dict[str, str], finish_reason: str | None = None,
              report_usage: Report | None = None) -> str:
        """One ``chat.completion.chunk`` as an SSE event (with ``usage`` and no choices for the usage chunk)."""
        body: dict[str, Any] = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                                "model": self.model}
        if report_usage is not None:
            body.update(choices=[], usage=usage(report_usage))
        else:
            body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]
        return event(body)


def usage(report: Report) -> dict[str, int]:
    return {"prompt_tokens": report.prompt_tokens, "completion_tokens": report.completion_tokens,
            "total_tokens": report.prompt_tokens + report.completion_tokens}


def event(body: dict[str, Any] | str) -> str:
    """``data: ...`` and the blank line that ends a server-sent event."""
    return f"data: {body if isinstance(body, str) else json.dumps(body)}\n\n"

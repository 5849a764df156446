"""OpenAI-style API errors: ``{"error": {"message", "type", "param", "code"}}`` with a 4xx status."""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    """A request the server refuses; the message says what is wrong, where, and how to fix it."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type: str = "invalid_request_error", headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.headers = headers
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type

    def body(self) -> dict[str, Any]:
        """The JSON body OpenAI clients parse."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad_request(message: str, param: str | None = None, code: str = "invalid_request") -> APIError:
    """A 400 for input the client must fix."""
    return APIError(400, message, param=param, code=code)


def queue_full(depth: int, retry_after_s: int) -> APIError:
    """A 503 for a request that arrives while ``depth`` requests already wait: come back in ``retry_after_s``."""
    return APIError(503, f"the server is at capacity ({depth} requests queued, --max-queue); retry after "
                    f"{retry_after_s} s, or start the server with a larger --max-queue", type="server_error",
                    code="queue_full", headers={"Retry-After": str(retry_after_s)})


def timed_out(seconds: float) -> APIError:
    """A 504 for a request whose report was not done within the server's --request-timeout-s."""
    return APIError(504, f"the report was not done within the server's --request-timeout-s ({seconds:g} s); "
                    "retry later, ask for fewer max_tokens, or start the server with a longer timeout",
                    type="server_error", code="timeout")

"""OpenAI-style API errors: ``{"error": {"message", "type", "param", "code"}}`` with a 4xx status."""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    """A request the server refuses; the message says what is wrong, where, and how to fix it."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type: str = "invalid_request_error") -> None:
        super().__init__(message)
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

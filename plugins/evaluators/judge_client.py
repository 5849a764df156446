"""A chat-completions client for an LLM judge on any OpenAI-compatible endpoint (Azure OpenAI too).

Retries are ours, not the ``openai`` client's (which is built with ``max_retries=0``), so they are bounded
and visible: timeouts, connection errors, 408/409/429, 5xx and malformed response bodies are retried with
exponential backoff (a 429's ``Retry-After`` is honoured), up to ``max_retries`` retries and ``max_total_s``
seconds per request. The API key is read from an environment variable and scrubbed from every error message.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from radzoo.errors import InputError, RadzooError

log = logging.getLogger("radzoo.judge")
_REPORT_LOCK = threading.Lock()
RETRY_STATUS = (408, 409, 429)
# rejected for what this one request holds (too long, filtered): other requests may still succeed
REQUEST_STATUS = (400, 413, 422)


class JudgeError(RadzooError, ConnectionError):
    """A judge request that failed for good; ``stops_run`` unless the endpoint rejected only this request.

    A RadzooError, so the ``radzoo`` command reports it as one line; still a ConnectionError for callers.
    """

    def __init__(self, message: str, stops_run: bool = True) -> None:
        super().__init__(message)
        self.stops_run = stops_run


class MalformedResponse(ValueError):
    """A 200 answer whose body is not a chat completion (a proxy's error page, a cut-off body)."""


def answer_text(response: object) -> str:
    """The assistant's text of a chat completion (an empty string for a null content)."""
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise MalformedResponse(f"no choices in the response ({str(response)[:120]!r})")
    message = getattr(choices[0], "message", None)
    if message is None:
        raise MalformedResponse("the first choice has no message")
    return getattr(message, "content", None) or ""


def _retry_after(exc: Exception) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), if the error carries one."""
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class JudgeClient:
    """``complete(messages) -> str`` with bounded, logged retries; thread-safe (one shared HTTP client)."""

    def __init__(
        self,
        model: str = "",
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        base_url_env: str = "OPENAI_BASE_URL",
        api_version: str | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        max_retries: int = 6,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_total_s: float = 600.0,
        temperature: float = 0.0,
        max_tokens: int = 256,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
    ) -> None:
        import openai

        if not model:
            raise InputError("judge: no judge model given; set the option model (the model, or the Azure "
                             "deployment, that the endpoint serves)")
        key = os.environ.get(api_key_env)
        if not key:
            raise InputError(f"judge: the environment variable {api_key_env} (option api_key_env) holds no API "
                             "key; export it, or name another variable with api_key_env")
        base_url = base_url or os.environ.get(base_url_env) or None
        self._secret = key
        self.model, self.base_url, self.api_version = model, base_url, api_version
        self.timeout, self.max_retries = float(timeout), int(max_retries)
        # an endpoint that does not answer at all fails in connect_timeout, not in the whole read timeout
        timeouts = openai.Timeout(self.timeout, connect=min(float(connect_timeout), self.timeout))
        self._unreachable_reported = False
        self.backoff, self.max_backoff, self.max_total_s = float(backoff), float(max_backoff), float(max_total_s)
        self.temperature, self.max_tokens = float(temperature), int(max_tokens)
        self.seed = None if seed is None else int(seed)  # sent only when set: not every endpoint takes one
        self.tokens = {"prompt": 0, "completion": 0}  # what the endpoint reported spending (usage), all calls
        self._sleep = sleep
        self.retries: list[tuple[str, float]] = []  # (reason, seconds waited): what the retries cost
        if api_version:
            if not base_url:
                raise InputError(f"judge: Azure (api_version={api_version!r}) needs base_url or {base_url_env} "
                                 "set to https://<resource>.openai.azure.com/")
            self._client = openai.AzureOpenAI(azure_endpoint=base_url, api_version=api_version, api_key=key,
                                              timeout=timeouts, max_retries=0)
        else:
            self._client = openai.OpenAI(base_url=base_url, api_key=key, timeout=timeouts, max_retries=0)
        self._openai = openai

    def describe(self) -> dict[str, Any]:
        """The settings that change answers or their cost (no secrets)."""
        return {"model": self.model, "base_url": self.base_url, "api_version": self.api_version,
                "temperature": self.temperature, "max_tokens": self.max_tokens,
                **({"seed": self.seed} if self.seed is not None else {})}

    def scrub(self, text: str) -> str:
        """``text`` with the API key replaced, for error messages and logs."""
        return text.replace(self._secret, "***") if self._secret else text

    def _retryable(self, exc: Exception) -> bool:
        if isinstance(exc, (self._openai.APIConnectionError, MalformedResponse, json.JSONDecodeError)):
            return True  # APIConnectionError includes APITimeoutError
        status = getattr(exc, "status_code", None)
        return isinstance(exc, self._openai.APIStatusError) and (status in RETRY_STATUS or status >= 500)

    def complete(self, messages: Sequence[dict[str, str]]) -> str:
        """The assistant's text for ``messages``; raises JudgeError (key scrubbed) when it cannot be had."""
        started, attempt = time.monotonic(), 0
        while True:
            try:
                response = self._client.chat.completions.create(
                    model=self.model, messages=list(messages), temperature=self.temperature,
                    max_tokens=self.max_tokens, **({"seed": self.seed} if self.seed is not None else {}))
                text = answer_text(response)
                usage = getattr(response, "usage", None)
                self.tokens["prompt"] += int(getattr(usage, "prompt_tokens", 0) or 0)
                self.tokens["completion"] += int(getattr(usage, "completion_tokens", 0) or 0)
                return text
            except Exception as exc:  # noqa: BLE001 - classified below, re-raised scrubbed
                malformed = isinstance(exc, (MalformedResponse, json.JSONDecodeError))
                reason = self.scrub(f"{'malformed response: ' if malformed else ''}{type(exc).__name__}: {exc}")
                retryable, hinted = self._retryable(exc), _retry_after(exc)
                status = getattr(exc, "status_code", None)
            # raised outside the except block, so the original error (which may quote the key) is not chained
            if not retryable:
                raise JudgeError(f"judge request to {self.base_url or 'api.openai.com'} failed: {reason}",
                                 stops_run=status not in REQUEST_STATUS)
            wait = min(self.max_backoff, self.backoff * 2**attempt)
            if hinted is not None:
                wait = min(self.max_backoff, max(wait, hinted))
            attempt += 1
            elapsed = time.monotonic() - started
            if attempt > self.max_retries or elapsed + wait > self.max_total_s:
                raise JudgeError(f"judge request gave up after {attempt} attempt(s) in {elapsed:.1f}s "
                                 f"(max_retries={self.max_retries}, max_total_s={self.max_total_s}): {reason}")
            self.retries.append((reason.split(":")[0], wait))
            self._report_unreachable(reason)
            self._sleep(wait)

    def retry_budget_s(self) -> float:
        """The longest all retries of one request can wait (backoff doubling, capped by max_backoff/max_total_s)."""
        waits = sum(min(self.max_backoff, self.backoff * 2**k) for k in range(self.max_retries))
        return min(waits, self.max_total_s)

    def _report_unreachable(self, reason: str) -> None:
        """Say once, at the first failed connection, that retries follow and how to shorten them."""
        with _REPORT_LOCK:
            if self._unreachable_reported or not reason.startswith("APIConnectionError"):
                return
            self._unreachable_reported = True
        log.warning("judge: cannot reach %s (%s); retrying up to %d times for up to %.0f s; check that the server "
                    "runs at that address, or pass --option METRIC.max_retries=0 to fail at once",
                    self.base_url or "api.openai.com", reason, self.max_retries, self.retry_budget_s())

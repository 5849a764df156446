"""Is the Hugging Face hub reachable? When it is not, hub calls fail at once instead of retrying for a minute.

The hub client retries an unreachable host (DNS failures included) for about a minute per file; a recipe
naming several parts that are not cached locally paid that once per part before failing. One short probe
up front decides: unreachable means offline mode (``HF_HUB_OFFLINE`` semantics) for the rest of the process.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
from urllib.parse import urlparse

PROBE_SECONDS = 1.5  # a reachable hub answers a TCP connect in well under a second


def hub_reachable(timeout: float = PROBE_SECONDS) -> bool:
    """Whether a TCP connection to the hub endpoint (``HF_ENDPOINT``) opens within ``timeout`` seconds."""
    from huggingface_hub import constants

    return not constants.HF_HUB_OFFLINE and _endpoint_answers(constants.ENDPOINT, timeout)


@functools.cache  # once per process and endpoint: every model built after the first pays nothing
def _endpoint_answers(endpoint: str, timeout: float) -> bool:
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    outcome: list[bool] = []

    def connect() -> None:  # in a thread: name resolution itself has no timeout
        try:
            with socket.create_connection((url.hostname or "", port), timeout=timeout):
                outcome.append(True)
        except OSError:
            outcome.append(False)

    probe = threading.Thread(target=connect, daemon=True)
    probe.start()
    probe.join(timeout)
    return bool(outcome and outcome[0])


def go_offline_if_unreachable() -> bool:
    """Switch the hub client to offline mode when the hub cannot be reached; returns whether it is offline."""
    from huggingface_hub import constants

    if hub_reachable():
        return False
    constants.HF_HUB_OFFLINE = True  # read at every request: later hub calls fail at once from the local cache
    os.environ["HF_HUB_OFFLINE"] = "1"  # and in any process started from here
    return True

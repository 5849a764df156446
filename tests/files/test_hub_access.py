"""With the hub unreachable, a recipe's missing parts are all named in one error, without retries."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest


def _closed_port() -> int:
    with socket.socket() as s:  # bound then released: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_endpoint_that_refuses_is_unreachable():
    from radzoo.files.hub_access import _endpoint_answers

    assert _endpoint_answers(f"http://127.0.0.1:{_closed_port()}", 1.0) is False
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert _endpoint_answers(f"http://127.0.0.1:{server.getsockname()[1]}", 1.0) is True


@pytest.mark.parametrize(("recipe", "keys"), [
    ("slava-cxr", ["encoder.args.path", "llm.args.path", "microsoft/phi-2"]),
    ("maira-1", ["encoder.args.path", "llm.args.path", "lmsys/vicuna-7b-v1.5"]),
])
def test_build_names_every_missing_part_at_once_without_retrying(recipe, keys, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}", HF_HOME=str(tmp_path / "hf"))
    result = subprocess.run([sys.executable, "-m", "radzoo.cli", "build", recipe, "--no-smoke"], env=env,
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 2, result.stderr
    assert "2 parts are missing locally" in result.stderr
    for key in keys:
        assert key in result.stderr
    assert "Retry" not in result.stderr and "Traceback" not in result.stderr

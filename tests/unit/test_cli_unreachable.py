"""The CLI when the API is not there, is slow, or is not Steward: one line saying what is
wrong and how to start the platform, exit 1, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from steward.cli.main import main
from steward.client import Client, Unreachable


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_no_platform_running_says_how_to_start_it_and_exits_non_zero() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "steward.cli.main", "--url", url, "models", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "STEWARD_CONFIG": os.devnull},
        check=False,
    )
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr + done.stdout
    assert f"cannot reach the Steward API at {url} (connection refused)" in done.stderr
    assert "steward local up" in done.stderr and "make demo" in done.stderr


class _Html(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>a proxy's login page</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def html_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Html)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_answer_that_is_not_json_is_named_not_a_traceback(
    html_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--url", html_server, "health"]) == 1
    err = capsys.readouterr().err
    assert "answered 200 with text/html, not JSON" in err and "Steward's API?" in err


def test_a_server_that_never_answers_times_out_with_a_message() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(Unreachable, match=r"got no answer within 0\.3 s.*steward local up"):
            Client(url=url, timeout_s=0.3).get("/health")


def test_a_remote_api_gets_a_hint_about_its_profile() -> None:
    with pytest.raises(Unreachable, match="Check the profile's url or stack") as caught:
        Client(url="http://steward.invalid", timeout_s=5).get("/health")
    assert "steward local up" not in str(caught.value)


def test_a_reader_that_leaves_the_pipe_early_gets_no_traceback(tmp_path: Path) -> None:
    """`steward profiles | head -0`: the pipe is closed before the CLI writes."""
    config = tmp_path / "config.toml"
    config.write_text(
        "".join(f'[profiles.p{i}]\nurl = "http://127.0.0.1:{i + 1}"\n' for i in range(50))
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "steward.cli.main", "profiles"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "STEWARD_CONFIG": str(config)},
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # long before the interpreter has started
    err = child.stderr.read().decode()
    child.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert child.returncode == 1

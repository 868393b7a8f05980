"""Start `bulkpatch sandbox` as a process of its own, for scripts, benchmarks and tests."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from typing import Any, Self

_API_URL = re.compile(rb"at (http://\S+/v1)")


class SandboxStartError(Exception):
    """The sandbox process did not print its URL in time, or ended first."""


def read_until(stream: Any, marker: bytes, timeout: float) -> bytes:
    """Bytes from an unbuffered pipe up to ``marker``, waiting on the pipe for at most ``timeout``
    seconds at a time; never sleeps."""
    seen = b""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while marker not in seen:
            if not selector.select(timeout):
                raise SandboxStartError(f"no {marker!r} within {timeout:g} s: {seen[-300:]!r}")
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                raise SandboxStartError(f"the process ended before {marker!r}: {seen[-300:]!r}")
            seen += chunk
    return seen


@dataclass
class SandboxProcess:
    """A running `bulkpatch sandbox` process and its API URL."""

    process: subprocess.Popen[bytes]
    api_url: str
    banner: str

    @classmethod
    def start(cls, *args: str, timeout: float = 60) -> Self:
        """Start it on a free loopback port with these extra arguments; wait for its URL."""
        process = subprocess.Popen(
            [sys.executable, "-m", "bulkpatch", "sandbox", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
        )
        try:
            banner = read_until(process.stdout, b"stats:", timeout)
        except SandboxStartError:
            process.kill()
            process.communicate()
            raise
        match = _API_URL.search(banner)
        if match is None:
            raise SandboxStartError(f"no URL in the banner: {banner!r}")
        return cls(process, match.group(1).decode(), banner.decode())

    def stats(self, *, meetings: bool = True, timeline: bool = False) -> dict[str, Any]:
        """GET /_sandbox/stats (per-meeting counts and the per-second timeline on request)."""
        query = f"?meetings={int(meetings)}&timeline={int(timeline)}"
        url = f"{self.api_url.removesuffix('/v1')}/_sandbox/stats{query}"
        with urllib.request.urlopen(url, timeout=30) as response:
            data: dict[str, Any] = json.load(response)
        return data

    def stop(self, timeout: float = 30) -> None:
        """Ctrl-C it and wait for it to end."""
        self.process.send_signal(signal.SIGINT)
        self.process.communicate(timeout=timeout)

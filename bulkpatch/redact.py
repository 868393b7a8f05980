"""Masking secrets in text a server sends back, and neutralising what a terminal would obey.

A server may quote the request back: a 400 "bad request for Bearer <token>" must not put the
token into logs, the journal, ``status`` or ``export``. Every text that comes from the network
goes through a :class:`Redactor` that knows the run's secrets before it goes anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bulkpatch.model import MASK

#: Shorter values are not masked on their own: masking "a" everywhere hides nothing and
#: mangles every message. Row passwords, however short, are masked by their row (engine).
_MIN_SECRET = 6

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class Redactor:
    """Replaces every known secret (access and refresh tokens, client secret) with a mask."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: list[str] = []
        self.add(*secrets)

    def __repr__(self) -> str:
        return f"<Redactor secrets={len(self._secrets)}>"  # never the values

    def add(self, *secrets: str | None) -> None:
        """Know these secrets too (a refreshed token, say)."""
        for secret in secrets:
            if secret and len(secret) >= _MIN_SECRET and secret not in self._secrets:
                self._secrets.append(secret)
        # Longest first: a secret that contains another is masked whole.
        self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """``text`` with every known secret masked."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


def printable(text: str) -> str:
    """Text safe to show on a terminal: control characters (escape sequences) made visible."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def capped(text: str, limit: int) -> str:
    """At most ``limit`` characters, saying how long the text was when it is cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters in all)"

"""An error answer of the emulated API, raised by any handler and rendered by the app's gate."""

from __future__ import annotations

#: The reference's own words for each error status ("Response Codes"), for answers with no
#: more specific reason.
STATUS_WORDS = {
    400: "The request was invalid or cannot be otherwise served.",
    401: "Authentication credentials were missing or incorrect.",
    403: "The request is understood, but it has been refused or access is not allowed.",
    404: "The requested resource could not be found.",
    405: "The request was made to a resource using an HTTP request method that is not supported.",
    409: "The request could not be processed because it conflicts with some established rule of the system.",
    415: "The request was made to a resource without specifying a media type or used a media type that is not supported.",
}


class Refusal(Exception):
    """The API would answer this request with an error status and these reasons."""

    def __init__(self, status: int, message: str = "", reasons: list[str] | None = None) -> None:
        self.status = status
        self.message = message or STATUS_WORDS.get(status, "The request failed.")
        self.reasons = reasons or [self.message]
        super().__init__(self.message)


def not_found() -> Refusal:
    """404, in the words the API uses for a meeting it does not know (or will not show)."""
    return Refusal(404, STATUS_WORDS[404])

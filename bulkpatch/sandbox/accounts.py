"""Who a token is: the site admin by default, or a user bound to one host's email.

The real API decides what a token may see by its scopes: an admin lists other hosts' meetings
with ``hostEmail``; a user sees and changes their own meetings only. The sandbox gives every
accepted token the admin's identity, except the user tokens it was told about
(``--user-token TOKEN=EMAIL``); a user token whose email the site profile names as an admin is an
admin too. Everyone of one sandbox is in one organisation, whose id comes from its admin token
(``--token``): two sandboxes with different tokens are two organisations.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from bulkpatch.sandbox.drawing import Person

ADMIN = Person("admin@example.com", "Sandbox Admin")
#: The organisation of a sandbox without an admin token: base64 of
#: ``ciscospark://us/ORGANIZATION/sandbox``, the shape of the API's ids.
ORG_ID = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9zYW5kYm94"


def org_id(admin_token: str | None) -> str:
    """The organisation id of a sandbox: derived from its admin token, else :data:`ORG_ID`.

    A one-way digest of the token (never the token itself), in the API's id shape: base64 of
    ``ciscospark://us/ORGANIZATION/<uuid>``, stable for one token.
    """
    if not admin_token:
        return ORG_ID
    digest = hashlib.sha256(f"bulkpatch sandbox org\0{admin_token}".encode()).hexdigest()
    uuid = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    uri = f"ciscospark://us/ORGANIZATION/{uuid}"
    return base64.b64encode(uri.encode()).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class Identity:
    """The person behind a token, and whether they hold the admin-level scopes."""

    person: Person
    admin: bool

    def owns(self, host_email: str) -> bool:
        """Whether a meeting hosted by ``host_email`` is this person's own."""
        return self.person.email.lower() == host_email.lower()

    def may_see(self, host_email: str) -> bool:
        """Admins reach every meeting of the site by its id; users only their own."""
        return self.admin or self.owns(host_email)


def identify(
    token: str | None,
    users: Mapping[str, str],
    admins: Collection[str] = (),
    people: Mapping[str, Person] | None = None,
) -> Identity:
    """The identity of an accepted token (the site admin unless it is a user token)."""
    email = users.get(token or "")
    if email is None:
        return Identity(ADMIN, admin=True)
    known = (people or {}).get(email.lower())
    person = known or Person(email, email.split("@", 1)[0].replace(".", " ").title())
    return Identity(person, admin=email.lower() in {admin.lower() for admin in admins})


def parse_user_token(text: str) -> tuple[str, str]:
    """``TOKEN=EMAIL`` as (token, email); ValueError with what is wrong otherwise."""
    token, separator, email = text.partition("=")
    if not separator or not token.strip() or "@" not in email:
        raise ValueError(f"expected TOKEN=EMAIL (a user token bound to a host), not {text!r}")
    return token.strip(), email.strip()

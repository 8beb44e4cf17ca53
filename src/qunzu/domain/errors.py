"""Domain errors with stable codes.

Each error class stands for one kind of refusal; the API maps the class to an
HTTP status and the ``code`` to the problem+json ``code`` member. Codes are a
public contract: clients branch on them, so they never change meaning.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every refusal the domain or the services can give."""

    kind = "invalid"

    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra


class InvalidInput(DomainError):
    """The request is well-formed but its content breaks a rule (400)."""

    kind = "invalid"


class Unauthenticated(DomainError):
    """No valid credentials (401)."""

    kind = "unauthenticated"


class Forbidden(DomainError):
    """The actor is known but may not do this (403)."""

    kind = "forbidden"


class NotFound(DomainError):
    """The thing does not exist, or the actor may not know that it exists (404)."""

    kind = "not_found"


class Conflict(DomainError):
    """The request clashes with the current state: duplicates, out of order (409)."""

    kind = "conflict"


class Gone(DomainError):
    """The thing existed but is no longer usable (410)."""

    kind = "gone"


class QuotaExceeded(DomainError):
    """A quota or rate limit refuses the request (429)."""

    kind = "quota"


class Unavailable(DomainError):
    """Something the service depends on (the database) cannot be reached just now,
    or a SQLite write lock held by another process past its wait (503).

    Not a refusal of the request: the same request may succeed once it is back, and the
    answer says when to try again (``retry_after``, seconds).
    """

    kind = "unavailable"

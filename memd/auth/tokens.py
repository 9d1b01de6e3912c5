"""Tokens: bearer secrets, their digests, and the record stored for each.

A secret is 32 random bytes (``memd_`` + 43 base64url characters). Only its SHA-256
digest is stored, in the LMDB environment's ``auth_tokens`` database (so backups carry
the tokens and nothing in them can be replayed as a credential). A plain hash is the
right tool here, not bcrypt or argon2: those exist to slow down guessing of
low-entropy passwords, and a 256-bit random secret cannot be guessed; they would also
make every request pay tens of milliseconds. The digest is the database key, so a
request's token is found with one hash and one dict lookup, whatever the number of
tokens.

The token id (first 8 bytes of the digest, in hex) names a token in lists, logs and
RevokeToken; it identifies the token without revealing anything usable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass

from memd.auth.grants import Action, Grant, action_names, actions_from_names
from memd.errors import InvalidArgument

PREFIX = "memd_"
MAX_LABEL_BYTES = 256
MAX_GRANTS = 64


def new_secret() -> str:
    """A fresh token secret."""
    raw = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return PREFIX + raw


def digest(secret: str) -> bytes:
    """The SHA-256 digest under which a token is stored."""
    return hashlib.sha256(secret.encode()).digest()


def token_id(token_digest: bytes) -> str:
    """The public id of the token with this digest."""
    return token_digest[:8].hex()


@dataclass(frozen=True, slots=True)
class Token:
    """What the daemon knows of a token (never its secret).

    Attributes:
        id: Public id (see the module docstring).
        label: Who or what holds it.
        grants: What it may do.
        created_ms: Creation time, Unix ms.
        expires_ms: Expiry, Unix ms; 0 = never.
    """

    id: str
    label: str
    grants: tuple[Grant, ...]
    created_ms: int
    expires_ms: int = 0

    def __post_init__(self) -> None:
        if len(self.label.encode()) > MAX_LABEL_BYTES:
            raise InvalidArgument(f"token label is longer than {MAX_LABEL_BYTES} bytes")
        if not self.grants:
            raise InvalidArgument("a token needs at least one grant")
        if len(self.grants) > MAX_GRANTS:
            raise InvalidArgument(f"a token holds at most {MAX_GRANTS} grants")

    def expired(self, now_ms: int) -> bool:
        """Whether the token is past its expiry at ``now_ms``."""
        return 0 < self.expires_ms <= now_ms

    def encode(self) -> bytes:
        """The record stored in LMDB (JSON: small, rare, and readable with mdb tools)."""
        return json.dumps(
            {
                "id": self.id,
                "label": self.label,
                "grants": [[g.pattern, action_names(g.actions)] for g in self.grants],
                "created_ms": self.created_ms,
                "expires_ms": self.expires_ms,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, record: bytes) -> Token:
        """Parse a stored record; raises ValueError (or InvalidArgument) if corrupt."""
        doc = json.loads(record)
        return cls(
            id=str(doc["id"]),
            label=str(doc["label"]),
            grants=tuple(Grant(p, actions_from_names(a)) for p, a in doc["grants"]),
            created_ms=int(doc["created_ms"]),
            expires_ms=int(doc["expires_ms"]),
        )


ADMIN_FILE_ID = "admin-file"
"""The id under which the bootstrap admin token (from ``--admin-token-file``) appears."""


def admin_file_token(created_ms: int) -> Token:
    """The principal of the bootstrap admin token: every action on every namespace."""
    every = Action.READ | Action.WRITE | Action.DELETE | Action.ADMIN
    return Token(ADMIN_FILE_ID, "bootstrap admin token file", (Grant("*", every),), created_ms)

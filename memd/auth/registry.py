"""The token registry: every token of the store in memory, kept in step with LMDB.

Only this daemon writes the ``auth_tokens`` database (the data directory is locked by
one process), so the in-memory map is authoritative once loaded: CreateToken and
RevokeToken commit to LMDB first and then update the map, and the very next request
sees the change. Authentication is then one SHA-256 and one dict lookup.

The bootstrap admin token lives in a file instead (``--admin-token-file``), so that an
operator can get in before any token exists and rotate it by rewriting the file; it is
re-read within a second of a change (``memd.watch``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from memd.auth.grants import Grant
from memd.auth.tokens import Token, admin_file_token, digest, new_secret, token_id
from memd.engine import Engine
from memd.errors import InvalidArgument, Unauthenticated
from memd.logs import event
from memd.watch import WatchedFile

log = logging.getLogger("memd.auth")

MIN_ADMIN_TOKEN_CHARS = 16


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class TokenRegistry:
    """Authenticates bearer tokens and administers the stored ones.

    Args:
        engine: The store whose ``auth_tokens`` database holds the tokens.
        admin_token_file: Path of the bootstrap admin token; empty for none.
        clock: Unix time in ms (tests pass a fake one).
    """

    def __init__(
        self, engine: Engine, admin_token_file: str = "", clock: Callable[[], int] = _now_ms
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._write_lock = threading.Lock()
        self._tokens: dict[bytes, Token] = {}
        self.revocations = 0
        """How many tokens were revoked so far (caches of grants check it)."""
        for key, record in engine.tokens():
            try:
                self._tokens[key] = Token.decode(record)
            except (ValueError, KeyError, TypeError) as exc:
                # A damaged record must not lock everyone out: skip it, loudly.
                event(
                    log, logging.ERROR, "token record unreadable", id=key[:8].hex(), error=str(exc)
                )
        self._admin_file = WatchedFile(admin_token_file) if admin_token_file else None
        self._admin_digest: bytes | None = None
        self._admin = admin_file_token(clock())
        if self._admin_file is not None:
            self._reload_admin_file()

    def authenticate(self, secret: str | None) -> Token:
        """The token presented, or Unauthenticated with ``reason`` set.

        Args:
            secret: The bearer token, None when the call had none.
        """
        if not secret:
            raise Unauthenticated("this call needs a token (authorization: Bearer ...)", "missing")
        # This runs on every call: the common path is one hash and one dict lookup, and
        # the clock is read only for tokens that can expire.
        key = digest(secret)
        token = self._tokens.get(key)
        if token is not None:
            if token.expires_ms and token.expired(self._clock()):
                raise Unauthenticated(f"token {token.id} has expired", "expired")
            return token
        if self._admin_file is not None:
            if self._admin_file.changed():
                self._reload_admin_file()
            if key == self._admin_digest:
                return self._admin
        raise Unauthenticated("unknown or revoked token", "unknown")

    def unless_revoked_since(self, seen: int, remember: Callable[[], None]) -> None:
        """Call ``remember`` (caching a token) only if no token was revoked since ``seen``.

        Under the lock that revocation takes, so a cache can never keep a token that
        was revoked while it was being authenticated.
        """
        with self._write_lock:
            if self.revocations == seen:
                remember()

    def create(self, label: str, grants: Sequence[Grant], expires_ms: int = 0) -> tuple[str, Token]:
        """Make and store a token; returns its secret (shown once) and its record."""
        now = self._clock()
        if expires_ms and expires_ms <= now:
            raise InvalidArgument(f"expires_ms {expires_ms} is not in the future (now {now})")
        with self._write_lock:
            while True:
                secret = new_secret()
                key = digest(secret)
                # Ids are 64-bit prefixes of the digest: distinct in practice, checked anyway.
                if all(t.id != token_id(key) for t in self._tokens.values()):
                    break
            token = Token(token_id(key), label, tuple(grants), now, expires_ms)
            self._engine.put_token(key, token.encode())
            self._tokens[key] = token
        event(
            log,
            logging.INFO,
            "token created",
            id=token.id,
            label=label,
            grants=[str(g) for g in grants],
        )
        return secret, token

    def list(self) -> list[Token]:
        """Every stored token, oldest first."""
        return sorted(self._tokens.values(), key=lambda t: (t.created_ms, t.id))

    def revoke(self, id_: str) -> bool:
        """Delete the token with this id; False when there is none."""
        with self._write_lock:
            for key, token in self._tokens.items():
                if token.id == id_:
                    self._engine.delete_token(key)
                    del self._tokens[key]
                    self.revocations += 1
                    event(log, logging.INFO, "token revoked", id=id_)
                    return True
        return False

    def _reload_admin_file(self) -> None:
        assert self._admin_file is not None
        try:
            secret = self._admin_file.read_bytes().decode().strip()
        except (OSError, UnicodeDecodeError) as exc:
            self._admin_digest = None
            event(
                log,
                logging.WARNING,
                "admin token file unreadable",
                path=self._admin_file.path,
                error=str(exc),
            )
            return
        if len(secret) < MIN_ADMIN_TOKEN_CHARS:
            self._admin_digest = None
            event(
                log,
                logging.WARNING,
                f"admin token file ignored: token shorter than {MIN_ADMIN_TOKEN_CHARS} characters",
                path=self._admin_file.path,
            )
            return
        self._admin_digest = digest(secret)
        event(log, logging.INFO, "admin token loaded", path=self._admin_file.path)


__all__ = ["TokenRegistry"]

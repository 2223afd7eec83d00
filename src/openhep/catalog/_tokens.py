"""Bearer tokens for the write API. The secret is shown once; the catalogue keeps its sha256.

A token is 32 random bytes (``secrets.token_urlsafe``), so a plain sha256 digest is enough to
make a stolen catalogue useless for authenticating; no salt or slow hash is needed for secrets
that were never chosen by a person.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from openhep.catalog._schema import tokens

#: Every token starts with this, so leaked ones are easy to find (e.g. by secret scanners).
TOKEN_PREFIX = "ohp_"  # noqa: S105 (a marker, not a secret)
MAX_NAME_LENGTH = 200


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    name: str
    created: datetime
    last_used: datetime | None
    revoked: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "created": self.created.isoformat(),
            "last_used": self.last_used.isoformat() if self.last_used else None,
            "revoked": self.revoked.isoformat() if self.revoked else None,
        }


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _info(row: Any) -> TokenInfo:
    return TokenInfo(row.id, row.name, row.created, row.last_used, row.revoked)


class Tokens:
    def __init__(self, engine: Engine, writer: Any) -> None:
        self.engine = engine
        self._writer = writer

    def create(self, name: str) -> tuple[TokenInfo, str]:
        """A new token named ``name``: its info and its secret (which is not stored)."""
        name = name.strip()
        if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
            raise ValueError(f"a token name has 1 to {MAX_NAME_LENGTH} printable characters")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self._writer() as conn:
            token_id = conn.execute(
                insert(tokens)
                .values(name=name, digest=_digest(secret), created=now)
                .returning(tokens.c.id)
            ).scalar_one()
        return TokenInfo(int(token_id), name, now, None, None), secret

    def authenticate(self, secret: str) -> TokenInfo | None:
        """The active token whose secret this is, or None (and notes when it was last used)."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(tokens).where(tokens.c.digest == _digest(secret))).first()
        if row is None or row.revoked is not None:
            return None
        now = datetime.now(UTC)
        if row.last_used is None or (now - row.last_used).total_seconds() > 60:
            with self._writer() as conn:
                conn.execute(update(tokens).where(tokens.c.id == row.id).values(last_used=now))
        return _info(row)

    def list(self) -> list[TokenInfo]:
        with self.engine.connect() as conn:
            return [_info(r) for r in conn.execute(select(tokens).order_by(tokens.c.id))]

    def revoke(self, token_id: int) -> TokenInfo:
        now = datetime.now(UTC)
        with self._writer() as conn:
            row = conn.execute(select(tokens).where(tokens.c.id == token_id)).first()
            if row is None:
                raise LookupError(f"there is no token {token_id}")
            if row.revoked is None:
                conn.execute(update(tokens).where(tokens.c.id == token_id).values(revoked=now))
        return TokenInfo(row.id, row.name, row.created, row.last_used, row.revoked or now)

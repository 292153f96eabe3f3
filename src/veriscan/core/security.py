"""Passwords, signed tokens and encryption at rest, all keyed from the service secret."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import jwt
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from veriscan.core.db import utcnow

TokenType = Literal["access", "refresh"]
JWT_ALGORITHM = "HS256"
JWT_ISSUER = "veriscan"


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose, so that no two uses share key material."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
    return hkdf.derive(secret)


class Passwords:
    """Argon2id hashing (the defaults follow RFC 9106's second recommendation: 64 MiB,
    3 passes, 4 lanes). Hashes made with other parameters still verify."""

    def __init__(self, *, memory_kib: int = 65536, time_cost: int = 3) -> None:
        self._hash = PasswordHash(
            (Argon2Hasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=4),)
        )
        # Verifying against this when the user does not exist keeps login time the same
        # whether or not the name is known.
        self._dummy = self._hash.hash("veriscan-timing-equaliser")

    def hash(self, password: str) -> str:
        return self._hash.hash(password)

    def verify(self, password: str, hashed: str | None) -> bool:
        if hashed is None:
            self._hash.verify(password, self._dummy)
            return False
        return self._hash.verify(password, hashed)


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    token_id: str
    type: TokenType
    expires_at: datetime


class Tokens:
    """JWTs with a type claim: an access token is never accepted as a refresh token."""

    def __init__(self, secrets: list[bytes], access_ttl: timedelta, refresh_ttl: timedelta):
        self._keys = [derive_key(secret, "veriscan jwt v1") for secret in secrets]
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl

    def issue(self, user_id: uuid.UUID, session_id: uuid.UUID, type_: TokenType) -> str:
        now = utcnow()
        ttl = self.access_ttl if type_ == "access" else self.refresh_ttl
        claims: dict[str, Any] = {
            "iss": JWT_ISSUER,
            "sub": str(user_id),
            "sid": str(session_id),
            "jti": uuid.uuid4().hex,
            "type": type_,
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
        }
        return jwt.encode(claims, self._keys[0], algorithm=JWT_ALGORITHM)

    def decode(self, token: str, expected: TokenType) -> TokenClaims | None:
        """The claims of a valid token of the expected type, else None."""
        for key in self._keys:
            try:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=[JWT_ALGORITHM],
                    issuer=JWT_ISSUER,
                    options={"require": ["exp", "iat", "sub", "sid", "jti", "type"]},
                )
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError:
                return None
            if claims.get("type") != expected:
                return None
            try:
                return TokenClaims(
                    user_id=uuid.UUID(claims["sub"]),
                    session_id=uuid.UUID(claims["sid"]),
                    token_id=str(claims["jti"]),
                    type=expected,
                    expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=utcnow().tzinfo),
                )
            except (ValueError, TypeError):
                return None
        return None


class SecretBox:
    """Encryption at rest with MultiFernet: the first secret encrypts, all of them decrypt."""

    def __init__(self, secrets: list[bytes]) -> None:
        self._fernet = MultiFernet(
            [Fernet(base64.urlsafe_b64encode(derive_key(s, "veriscan fernet v1"))) for s in secrets]
        )

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken as exc:
            raise ValueError("stored secret cannot be decrypted with the configured keys") from exc

    def rotate(self, token: str) -> str:
        """Re-encrypt under the current secret (for `veriscan rotate-keys`)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise ValueError(
                "a stored key cannot be decrypted with the configured secrets"
            ) from exc

"""Encryption at rest of residents' numbers (NIK, KK) and of the dialogue answers that hold them.

A copy of the database (a backup, a disk sent for repair, a SQLite file copied for a bug report)
must not give these numbers away (UU Adminduk Art. 95A). Each value is sealed with AES-256-GCM
under a random 96-bit nonce. The encryption is authenticated, so a changed byte fails loudly and
never decrypts to another number. The column a value belongs to is bound in as associated data,
so a ciphertext copied into another column does not open either. The stored form is short ASCII,
`1:<key id>:<base64url(nonce + ciphertext)>`. The key id is the first 8 hex digits of the key's
SHA-256: it says which key opens the value, so a new key can take over while values sealed
under the old one stay readable until `sms-ktp privacy rotate-key` seals them again.

A randomised ciphertext cannot be looked up. Exact lookups (one active application per NIK, a
family by its KK, the staff's search) use a keyed hash instead: HMAC-SHA256 under a lookup key of
its own. It is deterministic, so equality and unique constraints work, and without the key it is
useless. A plain hash of a 16-digit number whose structure (region, birth date) is known would be
reversed by brute force.

The keys come from the configuration or the environment (`[privacy]`), never from the repository.
A process configures them once at start (`configure`). With no key configured, sealing raises:
nothing is ever stored in plain text by mistake.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "1"
KEY_BYTES = 32
NONCE_BYTES = 12
HASH_LENGTH = 64  # hex digits of an HMAC-SHA256


class PrivacyKeyError(RuntimeError):
    """No key is configured, or a key is not one."""


class DecryptionError(ValueError):
    """A stored value does not open: changed, moved from another column, or sealed under a key
    that is not configured."""


def parse_key(text: str, name: str) -> bytes:
    """The 32 bytes of a key written as base64 (standard or URL-safe, with or without padding).
    The message names the setting, never its value."""
    cleaned = "".join(text.split())
    try:
        raw = base64.urlsafe_b64decode(
            cleaned.replace("+", "-").replace("/", "_") + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise PrivacyKeyError(f"{name} must be {KEY_BYTES} random bytes in base64 (make one "
                              "with: python3 -c 'import secrets; "
                              "print(secrets.token_urlsafe(32))')")
    return raw


def new_key() -> str:
    """A fresh random key, as the configuration takes it."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode().rstrip("=")


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


@dataclass(frozen=True)
class KeyRing:
    """The current data key (seals), every configured data key by id (open), the lookup key."""

    current: str
    ciphers: Mapping[str, AESGCM]
    lookup: bytes

    def encrypt(self, plain: str, purpose: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.ciphers[self.current].encrypt(nonce, plain.encode(), purpose.encode())
        return f"{VERSION}:{self.current}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, stored: str, purpose: str) -> str:
        version, identifier, body = _split(stored)
        if version != VERSION:
            raise DecryptionError(f"{purpose}: not a sealed value of format {VERSION}")
        cipher = self.ciphers.get(identifier)
        if cipher is None:
            raise DecryptionError(
                f"{purpose}: sealed under data key {identifier}, which is neither "
                "[privacy] data_key nor one of previous_data_keys")
        try:
            raw = base64.urlsafe_b64decode(body)
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode())
        except (binascii.Error, ValueError, InvalidTag):
            raise DecryptionError(f"{purpose}: the sealed value does not open (changed, or "
                                  "moved from another column)") from None
        return plain.decode()

    def keyed_hash(self, value: str, purpose: str) -> str:
        return hmac.digest(self.lookup, f"{purpose}\x00{value}".encode(), "sha256").hex()

    def encrypt_bytes(self, plain: bytes, purpose: str) -> bytes:
        """A file sealed like a number, in bytes: `1:<key id>:` then the nonce and the
        ciphertext, raw (a signed PDF of several megabytes is not made a third larger)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.ciphers[self.current].encrypt(nonce, plain, purpose.encode())
        return f"{VERSION}:{self.current}:".encode() + nonce + sealed

    def decrypt_bytes(self, stored: bytes, purpose: str) -> bytes:
        head = stored[:len(VERSION) + 10].decode("ascii", "replace")
        version, _, identifier = head.rstrip(":").partition(":")
        if version != VERSION or len(identifier) != 8 or head[-1:] != ":":
            raise DecryptionError(f"{purpose}: not a sealed file of format {VERSION}")
        cipher = self.ciphers.get(identifier)
        if cipher is None:
            raise DecryptionError(
                f"{purpose}: sealed under data key {identifier}, which is neither "
                "[privacy] data_key nor one of previous_data_keys")
        body = stored[len(VERSION) + 10:]
        try:
            return cipher.decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], purpose.encode())
        except (ValueError, InvalidTag):
            raise DecryptionError(f"{purpose}: the sealed file does not open (changed, or "
                                  "moved from another row)") from None


def _split(stored: str) -> tuple[str, str, str]:
    parts = stored.split(":", 2)
    if len(parts) != 3:
        raise DecryptionError("not a sealed value")
    return parts[0], parts[1], parts[2]


def sealed_key_id(stored: str) -> str:
    """The id of the data key a stored value was sealed under."""
    return _split(stored)[1]


def make_ring(data_key: str, previous_data_keys: Iterable[str], lookup_key: str) -> KeyRing:
    """A key ring from keys as the configuration writes them (base64)."""
    if not data_key or not lookup_key:
        raise PrivacyKeyError("[privacy] data_key and lookup_key are both needed "
                              "(or SMS_KTP_DATA_KEY and SMS_KTP_LOOKUP_KEY)")
    current = parse_key(data_key, "[privacy] data_key")
    lookup = parse_key(lookup_key, "[privacy] lookup_key")
    if lookup == current:
        raise PrivacyKeyError("[privacy] lookup_key must differ from data_key")
    keys = [parse_key(key, "[privacy] previous_data_keys") for key in previous_data_keys]
    ciphers = {key_id(key): AESGCM(key) for key in keys}
    ciphers[key_id(current)] = AESGCM(current)
    return KeyRing(key_id(current), ciphers, lookup)


_ring: KeyRing | None = None


def configure(data_key: str, previous_data_keys: Iterable[str] = (),
              lookup_key: str = "") -> KeyRing:
    """Use these keys in this process from now on (a process configures them once, at start;
    configuring again with other keys is for tests and the rotation command)."""
    global _ring
    _ring = make_ring(data_key, previous_data_keys, lookup_key)
    return _ring


def ring() -> KeyRing:
    if _ring is None:
        raise PrivacyKeyError("no data key configured in this process: NIK and KK are never "
                              "stored in plain text (see [privacy] in config.example.toml)")
    return _ring


def configured() -> bool:
    return _ring is not None


def encrypt(plain: str, purpose: str) -> str:
    """`plain` sealed under the current data key; `purpose` ("table.column") must be given
    again to open it."""
    return ring().encrypt(plain, purpose)


def decrypt(stored: str, purpose: str) -> str:
    return ring().decrypt(stored, purpose)


def encrypt_bytes(plain: bytes, purpose: str) -> bytes:
    """`plain` (a file) sealed under the current data key, bound to `purpose`."""
    return ring().encrypt_bytes(plain, purpose)


def decrypt_bytes(stored: bytes, purpose: str) -> bytes:
    return ring().decrypt_bytes(stored, purpose)


def keyed_hash(value: str, purpose: str) -> str:
    """HMAC-SHA256 of `value` under the lookup key, in hex: the same value always gives the
    same hash, and a NIK and a KK with the same digits do not (`purpose`: "nik", "kk")."""
    return ring().keyed_hash(value, purpose)

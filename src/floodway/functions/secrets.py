"""Secrets at rest: the keyring and AES-256-GCM envelopes (security.md SEC-1 to SEC-3).

Connection secrets, refresh and cached tokens, the org API key's display copy and the SMTP
password are stored as text envelopes ``v1:<key id>:<b64 nonce>:<b64 ciphertext>``. This module
is storage-agnostic: callers hand it the plaintext and a ``SecretContext`` naming the owner
(org, table, row, field); the envelope goes into whatever column they like.

Why the pieces look the way they do:

- AES-256-GCM with a fresh random 96-bit nonce per encryption: authenticated, so a flipped bit
  fails instead of decrypting to garbage, and random nonces are safe for far more messages
  than one installation will ever encrypt under one key.
- The associated data binds a ciphertext to its owner and key id
  (``org|table|row|field|key id``): an envelope copied into another row, another org or another
  field does not decrypt, so someone with write access to the database cannot make floodway
  send connection A's secret on connection B's requests.
- The key id travels in the envelope, so a keyring with several keys (rotation, SEC-3) knows
  which key decrypts; the active key encrypts.
- The key lives outside the database (SEC-2): ``FLOODWAY_SECRET_KEY`` (passed in by the
  settings layer; this module never reads the environment) or a key file that must not be
  readable by group or others.

No function here logs or puts a plaintext or a key into an exception message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import secrets as _random
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "ENVELOPE_VERSION",
    "KEY_FILE_NAME",
    "DecryptionError",
    "Keyring",
    "LoadedKeyring",
    "SecretContext",
    "SecretKey",
    "SecretsKeyError",
    "format_key",
    "generate_key",
    "is_envelope",
    "load_keyring",
    "parse_keys",
]

log = logging.getLogger("floodway.security")

ENVELOPE_VERSION = "v1"
KEY_FILE_NAME = "secret.key"
KEY_BYTES = 32
NONCE_BYTES = 12
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")


class SecretsKeyError(Exception):
    """The keyring cannot be built or lacks a needed key: start-up must stop (SEC-2)."""


class DecryptionError(Exception):
    """An envelope is malformed, was tampered with, or belongs to another owner or key."""


@dataclass(frozen=True, slots=True)
class SecretKey:
    """One 256-bit key and its id; the key bytes never appear in ``repr``."""

    id: str
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _KEY_ID.fullmatch(self.id):
            raise SecretsKeyError(
                f"invalid key id {self.id[:40]!r}: use 1-32 letters, digits, '_', '.' or '-'"
            )
        if len(self.key) != KEY_BYTES:
            raise SecretsKeyError(f"key {self.id!r} is not {KEY_BYTES} bytes")


@dataclass(frozen=True, slots=True)
class SecretContext:
    """Who owns a secret: the associated data that binds an envelope to its place (SEC-1).

    For a connection secret: ``SecretContext(org_id, "connections", connection_name,
    "client_secret")``. Any change to one component (another org, row or field) makes the
    envelope undecryptable.
    """

    org: str
    table: str
    row: str
    field: str

    def associated_data(self, key_id: str) -> bytes:
        # Components are percent-encoded so "a|b" + "c" can never equal "a" + "b|c".
        parts = (self.org, self.table, self.row, self.field, key_id)
        return "|".join(quote(str(p), safe="") for p in parts).encode("utf-8")


def generate_key() -> bytes:
    """32 random bytes from the OS generator."""
    return _random.token_bytes(KEY_BYTES)


def derived_key_id(key: bytes) -> str:
    """The id of a key given without one: a short digest, stable for the same key.

    A 40-bit prefix of a domain-separated SHA-256 reveals nothing usable about a 256-bit
    random key, and lets start-up name the key an envelope expects (SEC-2).
    """
    return "k" + hashlib.sha256(b"floodway secrets key id\0" + key).hexdigest()[:10]


def format_key(key: SecretKey) -> str:
    """``<id>:<base64>``, the text form ``parse_keys`` reads (env value or key file line)."""
    return f"{key.id}:{base64.b64encode(key.key).decode('ascii')}"


def _decode_key(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SecretsKeyError(f"{what} is not valid base64") from exc
    if len(raw) != KEY_BYTES:
        raise SecretsKeyError(f"{what} must decode to {KEY_BYTES} bytes, not {len(raw)}")
    return raw


def parse_keys(text: str, source: str = "secrets key") -> list[SecretKey]:
    """Parse one key or several, separated by commas or newlines; the first is active.

    Each entry is ``<base64 of 32 bytes>`` (id derived from the key) or ``<id>:<base64>``.
    ``#`` starts a comment line (key files). Messages name the entry by position only.
    """
    entries = [
        e.strip()
        for line in text.splitlines()
        if not line.strip().startswith("#")
        for e in line.split(",")
        if e.strip()
    ]
    if not entries:
        raise SecretsKeyError(f"{source} is empty")
    keys: list[SecretKey] = []
    for n, entry in enumerate(entries, 1):
        what = f"{source} entry {n}"
        key_id, sep, b64 = entry.rpartition(":")
        if sep:
            keys.append(SecretKey(key_id.strip(), _decode_key(b64, what)))
        else:
            raw = _decode_key(entry, what)
            keys.append(SecretKey(derived_key_id(raw), raw))
    ids = [k.id for k in keys]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise SecretsKeyError(f"{source} has duplicate key ids: {', '.join(dupes)}")
    return keys


def is_envelope(text: str) -> bool:
    """Whether ``text`` has the envelope shape (it may still fail to decrypt)."""
    parts = text.split(":")
    return len(parts) == 4 and parts[0] == ENVELOPE_VERSION and bool(_KEY_ID.fullmatch(parts[1]))


class Keyring:
    """Keys by id; the active key encrypts, every key decrypts what it encrypted (SEC-3)."""

    def __init__(self, keys: Sequence[SecretKey], active: str | None = None) -> None:
        if not keys:
            raise SecretsKeyError("a keyring needs at least one key")
        self._keys: dict[str, SecretKey] = {}
        for key in keys:
            if key.id in self._keys:
                raise SecretsKeyError(f"duplicate key id {key.id!r}")
            self._keys[key.id] = key
        self._active = keys[0].id if active is None else active
        if self._active not in self._keys:
            raise SecretsKeyError(f"active key {self._active!r} is not in the keyring")
        self._aead = {k.id: AESGCM(k.key) for k in keys}

    @classmethod
    def from_text(cls, text: str, source: str = "secrets key") -> Keyring:
        """A keyring from ``parse_keys`` text (the first key is active)."""
        return cls(parse_keys(text, source))

    def __repr__(self) -> str:
        return f"Keyring(active={self._active!r}, ids={self.ids!r})"

    @property
    def active_id(self) -> str:
        return self._active

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def encrypt(self, plaintext: str | bytes, context: SecretContext) -> str:
        """Encrypt under the active key; returns ``v1:<key id>:<b64 nonce>:<b64 ciphertext>``."""
        data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[self._active].encrypt(
            nonce, data, context.associated_data(self._active)
        )
        b64 = base64.b64encode
        return f"{ENVELOPE_VERSION}:{self._active}:{b64(nonce).decode()}:{b64(sealed).decode()}"

    def decrypt_bytes(self, envelope: str, context: SecretContext) -> bytes:
        """The plaintext bytes; ``DecryptionError`` for tampering or the wrong owner."""
        key_id, nonce, sealed = _split(envelope)
        aead = self._aead.get(key_id)
        if aead is None:
            raise SecretsKeyError(
                f"secret was encrypted with key {key_id!r}, which is not in the keyring "
                f"(keys: {', '.join(self.ids)})"
            )
        try:
            return aead.decrypt(nonce, sealed, context.associated_data(key_id))
        except InvalidTag:
            # Deliberately vague: wrong key, flipped bit and moved envelope look the same.
            raise DecryptionError(
                f"secret {context.table}.{context.field} could not be decrypted with key "
                f"{key_id!r} (wrong key, tampered, or moved from another owner)"
            ) from None

    def decrypt(self, envelope: str, context: SecretContext) -> str:
        """The plaintext text (secrets are UTF-8)."""
        data = self.decrypt_bytes(envelope, context)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptionError("decrypted secret is not UTF-8 text") from None

    def key_id_of(self, envelope: str) -> str:
        """The id of the key an envelope was encrypted with."""
        return _split(envelope)[0]

    def needs_rotation(self, envelope: str) -> bool:
        """True when the envelope is not under the active key."""
        return self.key_id_of(envelope) != self._active

    def rotate(self, envelope: str, context: SecretContext) -> str:
        """Re-encrypt under the active key (unchanged if it already is); verifies first."""
        if not self.needs_rotation(envelope):
            self.decrypt_bytes(envelope, context)  # still prove it is intact and ours
            return envelope
        return self.encrypt(self.decrypt_bytes(envelope, context), context)

    def require(self, key_ids_in_use: Iterable[str]) -> None:
        """Refuse a keyring lacking a key that stored envelopes use (SEC-2, SEC-3).

        Start-up passes the distinct key ids found in the database; a missing one stops it
        with the expected id named, and so does retiring a key that is still in use.
        """
        missing = sorted(set(key_ids_in_use) - set(self._keys))
        if missing:
            raise SecretsKeyError(
                f"stored secrets need key id(s) {', '.join(missing)}, which the keyring lacks "
                f"(keyring has {', '.join(self.ids)})"
            )


def _split(envelope: str) -> tuple[str, bytes, bytes]:
    parts = envelope.split(":") if isinstance(envelope, str) else []
    if len(parts) != 4 or parts[0] != ENVELOPE_VERSION:
        raise DecryptionError("not a v1 secret envelope")
    key_id, nonce_b64, sealed_b64 = parts[1:]
    if not _KEY_ID.fullmatch(key_id):
        raise DecryptionError("secret envelope has an invalid key id")
    try:
        nonce = base64.b64decode(nonce_b64, validate=True)
        sealed = base64.b64decode(sealed_b64, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionError("secret envelope is not valid base64") from None
    if len(nonce) != NONCE_BYTES or len(sealed) < 16:
        raise DecryptionError("secret envelope is truncated")
    return key_id, nonce, sealed


# ---------------------------------------------------------------------------------------------
# Loading (SEC-2)


@dataclass(frozen=True, slots=True)
class LoadedKeyring:
    """A keyring and where it came from, so start-up can say so (never the key itself)."""

    keyring: Keyring
    source: str  # "environment" or "file"
    path: Path | None = None
    created: bool = False


def _read_key_file(path: Path) -> str:
    try:
        st = path.stat()
    except OSError as exc:
        raise SecretsKeyError(f"cannot read secrets key file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise SecretsKeyError(f"secrets key file {path} is not a regular file")
    if st.st_mode & 0o077:
        raise SecretsKeyError(
            f"secrets key file {path} is readable by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}"
        )
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        raise SecretsKeyError(f"cannot read secrets key file {path}") from None


def _create_key_file(path: Path) -> None:
    raw = generate_key()
    key = SecretKey(derived_key_id(raw), raw)
    text = (
        "# floodway secrets key (security.md SEC-2). Back it up apart from the database:\n"
        "# without it no stored connection secret can be decrypted.\n"
        f"{format_key(key)}\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: never overwrite a key another process just created; 0600 from the first byte.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask cannot widen it, but make the mode explicit
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    log.warning("created secrets key file %s (key id %s); back it up", path, key.id)


def load_keyring(
    env_value: str | None = None,
    key_file: Path | None = None,
    data_dir: Path | None = None,
    *,
    create: bool = True,
) -> LoadedKeyring:
    """Build the keyring at start-up (SEC-2).

    Order: ``env_value`` (the ``FLOODWAY_SECRET_KEY`` setting) if set; else ``key_file`` (the
    ``secret_key_file`` setting) which must exist; else ``<data_dir>/secret.key``, created with
    mode 0600 when missing and ``create`` is true. Pass ``create=False`` when encrypted rows
    already exist (a new key could never decrypt them) and for PostgreSQL, which must be given
    a key. A key file readable by group or others is refused.
    """
    if env_value is not None and env_value.strip():
        return LoadedKeyring(Keyring.from_text(env_value, "FLOODWAY_SECRET_KEY"), "environment")
    if key_file is not None:
        return LoadedKeyring(
            Keyring.from_text(_read_key_file(key_file), str(key_file)), "file", key_file
        )
    if data_dir is None:
        raise SecretsKeyError(
            "no secrets key: set FLOODWAY_SECRET_KEY or secret_key_file, or use a data directory"
        )
    path = data_dir / KEY_FILE_NAME
    created = False
    if not path.exists():
        if not create:
            raise SecretsKeyError(
                f"no secrets key: {path} does not exist and none may be generated here; "
                "set FLOODWAY_SECRET_KEY or secret_key_file"
            )
        try:
            _create_key_file(path)
            created = True
        except FileExistsError:
            pass  # another process won the race; use its key
    return LoadedKeyring(Keyring.from_text(_read_key_file(path), str(path)), "file", path, created)

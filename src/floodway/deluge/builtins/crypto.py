"""Encoding and crypto built-ins (deluge-language.md §10): ``zoho.encryption.*`` and URL encoding.

``ENCRYPTION_TASKS`` maps the lower-case task name (``aesencode``) to a ``Builtin`` whose function
has the signature ``fn(ctx, *args)``; the runtime calls ``zoho.encryption.<name>(args)`` through it.
The global functions ``urlEncode``, ``urlDecode`` and ``encodeUrl`` and the TEXT methods of the same
names are registered in ``registry``.

Text is always handled as its UTF-8 bytes. A lone surrogate (possible in text parsed from JSON)
encodes as ``?``, as Java does, so no Python encoding error can escape.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import quote_from_bytes

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..context import Context
from ..errors import DelugeLimitError, DelugeRuntimeError
from ..registry import Builtin, function, method
from ..values import TEXT, DateTime, text_form, type_name

# Work is done in slices so that the deadline is checked regularly (security.md LM-2).
_URL_CHUNK: Final = 10_000  # bytes per quote call: quoting loops in Python per byte
_HASH_CHUNK: Final = 1 << 20  # bytes per hash update: hashing runs in C
_CHARGE_FROM: Final = 4096

_ALWAYS_SAFE: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# urlEncode keeps the RFC 3986 unreserved characters (D-63).
_URLENCODE_KEEP: Final = _ALWAYS_SAFE + b"-_.~"
# encodeUrl is Java's URLEncoder: `.-*_` kept and space -> `+` (the same length as the space).
_ENCODEURL_KEEP: Final = _ALWAYS_SAFE + b".-*_ "
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")

_AES_KEY_BYTES: Final = 32
_AES_BLOCK: Final = 16


def _utf8(s: str) -> bytes:
    return s.encode("utf-8", "replace")


def _check_text_size(ctx: Context, n: int) -> None:
    """Refuse a TEXT result before it is built (LM-3) and account for big ones."""
    if n > ctx.limits.text_chars:
        raise DelugeLimitError(f"Text exceeds the limit of {ctx.limits.text_chars} characters")
    if n > _CHARGE_FROM:
        ctx.charge(n)


def _text_arg(fname: str, arg: str, v: Any) -> str:
    """A TEXT argument; scalars are taken in their text form, anything else is an error."""
    t = type(v)
    if t is str:
        return v  # type: ignore[no-any-return]
    if t in (int, float, bool, DateTime):
        return text_form(v)
    raise DelugeRuntimeError(f"'{fname}' expects TEXT for '{arg}' but got {type_name(v)}")


# --------------------------------------------------------------------------------------------
# URL encoding


def _percent_encode(ctx: Context, text: str, keep: bytes, java_form: bool) -> str:
    data = _utf8(text)
    # Every byte not kept becomes three characters: the exact size is known before building.
    escaped = len(data.translate(None, keep))
    _check_text_size(ctx, len(data) + 2 * escaped)
    pieces: list[str] = []
    for start in range(0, len(data), _URL_CHUNK):
        ctx.check_deadline()
        chunk = data[start : start + _URL_CHUNK]
        if java_form:
            # quote keeps `~` (always safe in Python) and here the space; Java encodes `~`.
            piece = quote_from_bytes(chunk, safe="* ").replace("~", "%7E").replace(" ", "+")
        else:
            piece = quote_from_bytes(chunk, safe="")
        pieces.append(piece)
    return "".join(pieces)


def url_encode(ctx: Context, text: str) -> str:
    """Percent-encode the UTF-8 bytes; only ``A-Z a-z 0-9 - _ . ~`` are kept, space is ``%20``."""
    return _percent_encode(ctx, text, _URLENCODE_KEEP, java_form=False)


def encode_url(ctx: Context, text: str) -> str:
    """Java ``URLEncoder`` form encoding: ``A-Z a-z 0-9 . - * _`` kept, space is ``+``."""
    return _percent_encode(ctx, text, _ENCODEURL_KEEP, java_form=True)


def url_decode(ctx: Context, text: str) -> str:
    """Decode ``%XX`` escapes (UTF-8) and ``+`` as space; a malformed escape is an error."""
    # Decoding never makes text longer, so no size check is needed.
    s = text.replace("+", " ")
    out = bytearray()
    pos = 0
    count = 0
    while True:
        i = s.find("%", pos)
        if i < 0:
            out += _utf8(s[pos:])
            break
        out += _utf8(s[pos:i])
        # Collect the whole run of escapes at once; malformed ones are refused like Java does.
        run = bytearray()
        while i < len(s) and s[i] == "%":
            hx = s[i + 1 : i + 3]
            if len(hx) < 2 or hx[0] not in _HEX_DIGITS or hx[1] not in _HEX_DIGITS:
                raise DelugeRuntimeError(f"Malformed URL escape '%{hx}' in urlDecode")
            run.append(int(hx, 16))
            i += 3
            count += 1
            if count % 10_000 == 0:
                ctx.check_deadline()
        out += run
        pos = i
    result = out.decode("utf-8", "replace")
    if len(result) > _CHARGE_FROM:
        ctx.charge(len(result))
    return result


@function("urlEncode")
def fn_url_encode(ctx: Context, value: Any) -> str | None:
    """Global ``urlEncode(t)``: any non-TEXT argument gives null (§10)."""
    return url_encode(ctx, value) if type(value) is str else None


@function("urlDecode")
def fn_url_decode(ctx: Context, value: Any) -> str | None:
    return url_decode(ctx, value) if type(value) is str else None


@function("encodeUrl")
def fn_encode_url(ctx: Context, value: Any) -> str | None:
    # Zoho does not say what a non-TEXT argument gives; floodway follows the urlEncode rule.
    return encode_url(ctx, value) if type(value) is str else None


@method(TEXT, "urlEncode")
def m_url_encode(ctx: Context, receiver: str) -> str:
    return url_encode(ctx, receiver)


@method(TEXT, "urlDecode")
def m_url_decode(ctx: Context, receiver: str) -> str:
    return url_decode(ctx, receiver)


@method(TEXT, "encodeUrl")
def m_encode_url(ctx: Context, receiver: str) -> str:
    return encode_url(ctx, receiver)


# --------------------------------------------------------------------------------------------
# Base64


def _b64_text(ctx: Context, data: bytes) -> str:
    _check_text_size(ctx, 4 * ((len(data) + 2) // 3))
    ctx.check_deadline()
    return base64.b64encode(data).decode("ascii")


def _b64_bytes(text: str) -> bytes | None:
    """Lenient Base64: whitespace ignored, padding optional, URL-safe alphabet accepted."""
    if not text.isascii():
        return None
    s = "".join(text.split()).rstrip("=").replace("-", "+").replace("_", "/")
    if len(s) % 4 == 1:
        return None
    s += "=" * (-len(s) % 4)
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return None


def base64_encode(ctx: Context, text: Any) -> str:
    name = "zoho.encryption.base64Encode"
    return _b64_text(ctx, _utf8(_text_arg(name, "text", text)))


def base64_decode(ctx: Context, text: Any) -> str:
    s = _text_arg("zoho.encryption.base64Decode", "text", text)
    ctx.check_deadline()
    data = _b64_bytes(s)
    if data is None:
        raise DelugeRuntimeError("Invalid Base64 text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise DelugeRuntimeError("Base64 text does not decode to UTF-8 text") from None


# --------------------------------------------------------------------------------------------
# AES-256-CBC (D-42)


def _aes_key(fname: str, key: Any) -> bytes:
    raw = _utf8(_text_arg(fname, "key", key))
    if len(raw) > _AES_KEY_BYTES:
        raise DelugeRuntimeError("AES key must be at most 32 bytes")
    # Zero padding to 32 bytes is the rule that makes Zoho's IV-less examples decrypt (§10).
    return raw.ljust(_AES_KEY_BYTES, b"\0")


def _aes_iv(iv: Any) -> bytes:
    # The IV's UTF-8 bytes are used, so only 16 single-byte characters make a 16-byte IV.
    if type(iv) is not str or len(iv) != _AES_BLOCK or len(_utf8(iv)) != _AES_BLOCK:
        raise DelugeRuntimeError("AES IV must be 16 characters")
    return _utf8(iv)


_NO_IV: Final = object()


def aes_encode(ctx: Context, key: Any, text: Any, iv: Any = _NO_IV) -> str:
    fname = "zoho.encryption.aesEncode"
    k = _aes_key(fname, key)
    data = _utf8(_text_arg(fname, "text", text))
    iv_bytes = secrets.token_bytes(_AES_BLOCK) if iv is _NO_IV else _aes_iv(iv)
    # Size of the result before any work: PKCS#7 adds 1-16 bytes, plus the prepended IV.
    total = (len(data) // _AES_BLOCK + 1) * _AES_BLOCK + (_AES_BLOCK if iv is _NO_IV else 0)
    _check_text_size(ctx, 4 * ((total + 2) // 3))
    ctx.check_deadline()
    padder = padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    enc = Cipher(algorithms.AES(k), modes.CBC(iv_bytes)).encryptor()
    ct = enc.update(padded) + enc.finalize()
    return _b64_text(ctx, iv_bytes + ct if iv is _NO_IV else ct)


def aes_decode(ctx: Context, key: Any, text: Any, iv: Any = _NO_IV) -> str:
    fname = "zoho.encryption.aesDecode"
    k = _aes_key(fname, key)
    s = _text_arg(fname, "text", text)
    iv_bytes = None if iv is _NO_IV else _aes_iv(iv)
    ctx.check_deadline()
    data = _b64_bytes(s)
    if data is None:
        raise DelugeRuntimeError("Decryption failed")
    if iv_bytes is None:
        iv_bytes, data = data[:_AES_BLOCK], data[_AES_BLOCK:]
    if len(iv_bytes) != _AES_BLOCK or not data or len(data) % _AES_BLOCK:
        raise DelugeRuntimeError("Decryption failed")
    try:
        dec = Cipher(algorithms.AES(k), modes.CBC(iv_bytes)).decryptor()
        padded = dec.update(data) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        plain = unpadder.update(padded) + unpadder.finalize()
        result = plain.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        # A wrong key shows up as bad padding or bytes that are not text.
        raise DelugeRuntimeError("Decryption failed") from None
    if len(result) > _CHARGE_FROM:
        ctx.charge(len(result))
    return result


def _unsupported(name: str) -> Callable[..., Any]:
    def fn(ctx: Context, *args: Any) -> Any:
        raise DelugeRuntimeError(f"'{name}' is not supported")

    return fn


# --------------------------------------------------------------------------------------------
# Digests and HMAC (D-43)

_DIGESTS: Final[dict[str, Callable[..., Any]]] = {
    "md5": hashlib.md5,
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}


def _feed(ctx: Context, h: Any, data: bytes) -> None:
    for start in range(0, len(data), _HASH_CHUNK):
        ctx.check_deadline()
        h.update(data[start : start + _HASH_CHUNK])


def _digest(algo: str, label: str) -> Callable[..., Any]:
    fname = f"zoho.encryption.{label}"

    def fn(ctx: Context, text: Any) -> str:
        # usedforsecurity=False: these are checksums for scripts, and FIPS builds allow them.
        h = _DIGESTS[algo](usedforsecurity=False)
        _feed(ctx, h, _utf8(_text_arg(fname, "text", text)))
        return h.hexdigest()  # type: ignore[no-any-return]

    return fn


def _hmac(algo: str, label: str) -> Callable[..., Any]:
    fname = f"zoho.encryption.{label}"

    def fn(ctx: Context, key: Any, message: Any, fmt: Any = "base64") -> str:
        k = _utf8(_text_arg(fname, "key", key))
        msg = _utf8(_text_arg(fname, "message", message))
        form = fmt.lower() if type(fmt) is str else None
        if form not in ("base64", "hex"):
            raise DelugeRuntimeError(
                f"'{fname}' format must be \"base64\" or \"hex\" but got '{text_form(fmt)}'"
            )
        h = hmac.new(k, digestmod=_DIGESTS[algo])
        _feed(ctx, h, msg)
        if form == "hex":
            return h.hexdigest()
        return base64.b64encode(h.digest()).decode("ascii")

    return fn


def _task(label: str, fn: Callable[..., Any], lo: int, hi: int | None) -> tuple[str, Builtin]:
    return label.lower(), Builtin(f"zoho.encryption.{label}", fn, lo, hi)


ENCRYPTION_TASKS: Final[Mapping[str, Builtin]] = MappingProxyType(
    dict(
        [
            _task("urlEncode", fn_url_encode, 1, 1),
            _task("urlDecode", fn_url_decode, 1, 1),
            _task("base64Encode", base64_encode, 1, 1),
            _task("base64Decode", base64_decode, 1, 1),
            _task("aesEncode", aes_encode, 2, 3),
            _task("aesDecode", aes_decode, 2, 3),
            _task("aesEncode128", _unsupported("aesEncode128"), 0, None),
            _task("aesDecode128", _unsupported("aesDecode128"), 0, None),
            _task("hmacsha1", _hmac("sha1", "hmacsha1"), 2, 3),
            _task("hmacsha256", _hmac("sha256", "hmacsha256"), 2, 3),
            _task("hmacsha512", _hmac("sha512", "hmacsha512"), 2, 3),
            _task("hmacmd5", _hmac("md5", "hmacmd5"), 2, 3),
            _task("md5", _digest("md5", "md5"), 1, 1),
            _task("sha1", _digest("sha1", "sha1"), 1, 1),
            _task("sha256", _digest("sha256", "sha256"), 1, 1),
            _task("sha512", _digest("sha512", "sha512"), 1, 1),
        ]
    )
)


def _warm_up() -> None:
    """Run AES once at import so any lazy loading inside ``cryptography`` happens now.

    Imports while generated code runs trip the audit hook (security.md SB-10).
    """
    enc = Cipher(algorithms.AES(bytes(32)), modes.CBC(bytes(16))).encryptor()
    padder = padding.PKCS7(128).padder()
    ct = enc.update(padder.update(b"x") + padder.finalize()) + enc.finalize()
    dec = Cipher(algorithms.AES(bytes(32)), modes.CBC(bytes(16))).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    unpadder.update(dec.update(ct) + dec.finalize())
    unpadder.finalize()
    hmac.new(b"k", b"m", hashlib.md5).digest()


_warm_up()

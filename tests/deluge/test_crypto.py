"""Tests of zoho.encryption.* and the URL encoding functions (deluge-language.md §10)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from floodway.deluge.builtins.crypto import ENCRYPTION_TASKS
from floodway.deluge.errors import DelugeLimitError, DelugeRuntimeError
from floodway.deluge.limits import Limits
from floodway.deluge.registry import Builtin
from floodway.deluge.values import DelugeList, DelugeMap

from .conftest import FakeContext


def enc(ctx: Any, name: str, *args: Any) -> Any:
    """Call zoho.encryption.<name>(args) as the runtime does."""
    b = ENCRYPTION_TASKS[name.lower()]
    if len(args) < b.min_args or (b.max_args is not None and len(args) > b.max_args):
        raise DelugeRuntimeError(b.arity_error(len(args)))
    return b.fn(ctx, *args)


@pytest.fixture
def e(ctx: FakeContext) -> Any:
    return lambda name, *args: enc(ctx, name, *args)


# ---------------------------------------------------------------------------- table


def test_table_has_every_task() -> None:
    expected = {
        "urlencode",
        "urldecode",
        "base64encode",
        "base64decode",
        "aesencode",
        "aesdecode",
        "aesencode128",
        "aesdecode128",
        "hmacsha1",
        "hmacsha256",
        "hmacsha512",
        "hmacmd5",
        "md5",
        "sha1",
        "sha256",
        "sha512",
    }
    assert set(ENCRYPTION_TASKS) == expected
    assert all(type(b) is Builtin for b in ENCRYPTION_TASKS.values())
    assert ENCRYPTION_TASKS["aesencode"].name == "zoho.encryption.aesEncode"


def test_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        ENCRYPTION_TASKS["x"] = ENCRYPTION_TASKS["md5"]  # type: ignore[index]


def test_arity_message(e: Any) -> None:
    with pytest.raises(
        DelugeRuntimeError,
        match=r"^'zoho\.encryption\.aesEncode' takes 2 or 3 arguments but got 1$",
    ):
        e("aesEncode", "k")


# ---------------------------------------------------------------------------- URL encoding


def test_url_encode_zoho_example(e: Any, callf: Any, call: Any) -> None:
    want = "https%3A%2F%2Fwww.zoho.com%2Fcreator"
    assert e("urlEncode", "https://www.zoho.com/creator") == want
    assert callf("urlEncode", "https://www.zoho.com/creator") == want
    assert call("https://www.zoho.com/creator", "urlEncode") == want


def test_url_encode_space_unreserved_and_utf8(e: Any) -> None:
    assert e("urlEncode", "a b") == "a%20b"
    assert e("urlEncode", "AZaz09-_.~") == "AZaz09-_.~"
    assert e("urlEncode", "*+&=?#%") == "%2A%2B%26%3D%3F%23%25"
    assert e("urlEncode", "é€") == "%C3%A9%E2%82%AC"
    assert e("urlEncode", "") == ""


def test_url_encode_lone_surrogate_is_question_mark(e: Any) -> None:
    assert e("urlEncode", "a\ud800b") == "a%3Fb"


@pytest.mark.parametrize("arg", [None, 5, 1.5, True, DelugeList(["a"]), DelugeMap({"a": 1})])
def test_url_encode_decode_non_text_is_null(e: Any, callf: Any, arg: Any) -> None:
    assert e("urlEncode", arg) is None
    assert e("urlDecode", arg) is None
    assert callf("urlEncode", arg) is None
    assert callf("urlDecode", arg) is None
    assert callf("encodeUrl", arg) is None


def test_encode_url_zoho_example(callf: Any, call: Any) -> None:
    url = "http://www.zoho.com/zohotest?name=John&country=Australia&age=101"
    want = "http%3A%2F%2Fwww.zoho.com%2Fzohotest%3Fname%3DJohn%26country%3DAustralia%26age%3D101"
    assert callf("encodeUrl", url) == want
    assert call(url, "encodeUrl") == want


def test_encode_url_is_java_form_encoding(callf: Any) -> None:
    assert callf("encodeUrl", "a b") == "a+b"
    assert callf("encodeUrl", ".-*_~") == ".-*_%7E"
    assert callf("encodeUrl", "+") == "%2B"
    assert callf("encodeUrl", "ü") == "%C3%BC"


def test_url_decode_zoho_example(e: Any, callf: Any, call: Any) -> None:
    assert e("urlDecode", "https%3A%2F%2Fwww.zoho.com") == "https://www.zoho.com"
    assert callf("urlDecode", "https%3A%2F%2Fwww.zoho.com") == "https://www.zoho.com"
    assert call("https%3A%2F%2Fwww.zoho.com", "urlDecode") == "https://www.zoho.com"


def test_url_decode_plus_utf8_and_round_trip(e: Any, callf: Any) -> None:
    assert e("urlDecode", "a+b%20c%2B") == "a b c+"
    assert e("urlDecode", "%c3%a9%E2%82%AC") == "é€"
    assert e("urlDecode", "plain") == "plain"
    text = "Zoho & Co / 100% — ünïcödé ~*"
    assert e("urlDecode", e("urlEncode", text)) == text
    assert e("urlDecode", callf("encodeUrl", text)) == text


def test_url_decode_invalid_utf8_is_replacement_char(e: Any) -> None:
    assert e("urlDecode", "a%FFb") == "a\ufffdb"


@pytest.mark.parametrize("bad", ["%", "%2", "abc%zz", "%2G", "%%20"])
def test_url_decode_malformed_escape(e: Any, bad: str) -> None:
    with pytest.raises(DelugeRuntimeError, match="Malformed URL escape"):
        e("urlDecode", bad)


def test_url_encode_result_size_limit() -> None:
    small = FakeContext(limits=Limits(text_chars=10))
    assert enc(small, "urlEncode", "abcdefghij") == "abcdefghij"
    with pytest.raises(DelugeLimitError, match="Text exceeds the limit of 10 characters"):
        enc(small, "urlEncode", "aaaaaaaa/")  # 8 + 3 characters
    assert enc(small, "urlEncode", "aaaaaaa/") == "aaaaaaa%2F"


def test_url_encode_large_input_checks_deadline() -> None:
    class Counting(FakeContext):
        calls = 0

        def check_deadline(self) -> None:
            self.calls += 1

    c = Counting()
    text = "a/" * 50_000
    out = enc(c, "urlEncode", text)
    assert out == "a%2F" * 50_000
    assert c.calls >= 10
    assert c.charged >= len(out)


# ---------------------------------------------------------------------------- Base64


def test_base64_encode_decode(e: Any) -> None:
    assert e("base64Encode", "Zoho Creator") == "Wm9obyBDcmVhdG9y"
    assert e("base64Encode", "é") == "w6k="
    assert e("base64Encode", "") == ""
    assert e("base64Decode", "Wm9obyBDcmVhdG9y") == "Zoho Creator"
    assert e("base64Decode", "w6k=") == "é"


def test_base64_decode_lenient(e: Any) -> None:
    assert e("base64Decode", "w6k") == "é"  # missing padding
    assert e("base64Decode", "Pz8_") == "???"  # URL-safe alphabet
    assert e("base64Decode", "Pz8/") == "???"
    assert e("base64Decode", "Wm9o\nbyBD cmVhdG9y") == "Zoho Creator"


@pytest.mark.parametrize("bad", ["a", "@@@@", "é", "Wm9!"])
def test_base64_decode_invalid(e: Any, bad: str) -> None:
    with pytest.raises(DelugeRuntimeError, match="Invalid Base64 text"):
        e("base64Decode", bad)


def test_base64_decode_not_utf8(e: Any) -> None:
    with pytest.raises(DelugeRuntimeError, match="does not decode to UTF-8"):
        e("base64Decode", "/w==")


def test_base64_non_text_arguments(e: Any) -> None:
    assert e("base64Encode", 123) == "MTIz"
    with pytest.raises(DelugeRuntimeError, match="expects TEXT for 'text' but got null"):
        e("base64Encode", None)
    with pytest.raises(DelugeRuntimeError, match="but got LIST"):
        e("base64Decode", DelugeList())


def test_base64_size_limit() -> None:
    small = FakeContext(limits=Limits(text_chars=8))
    assert enc(small, "base64Encode", "abcdef") == "YWJjZGVm"
    with pytest.raises(DelugeLimitError):
        enc(small, "base64Encode", "abcdefg")


# ---------------------------------------------------------------------------- AES


def test_aes_decode_zoho_examples_without_iv(e: Any) -> None:
    assert (
        e(
            "aesDecode",
            "passkey",
            "F0JOCSWN0Eb2Y//llSoROcsQxHihYnMwCuJSywFaaigEJzQdjnznq7+rSUXy6JlG",
        )
        == "Confidential details"
    )
    assert (
        e(
            "aesDecode",
            "passkey",
            "yf/u6N0HjKWXFFHIEKzG23+CM+BoL4RBPNb4mc0G3hw5q6xPe9KSpUd62Z5sjjSE",
        )
        == "This is a secret"
    )


def test_aes_encode_with_iv_examples(e: Any) -> None:
    iv = "0000000000000000"
    assert e("aesEncode", "passkey", "This is a secret", iv) == (
        "AR+ygx+et18UNeIltGh82NBgPQx6Y0hWbEcgN3NVbJA="
    )
    assert e("aesEncode", "passkey", "Confidential details", iv) == (
        "cc/yIW2qfSs8I9M3mNFjpzNYKQ/9QfwIlSczI/ApqyM="
    )
    assert (
        e("aesDecode", "passkey", "AR+ygx+et18UNeIltGh82NBgPQx6Y0hWbEcgN3NVbJA=", iv)
        == "This is a secret"
    )
    assert (
        e("aesDecode", "passkey", "cc/yIW2qfSs8I9M3mNFjpzNYKQ/9QfwIlSczI/ApqyM=", iv)
        == "Confidential details"
    )


def test_aes_encode_random_iv_round_trip(e: Any) -> None:
    a = e("aesEncode", "passkey", "Confidential details")
    b = e("aesEncode", "passkey", "Confidential details")
    assert a != b  # fresh IV each time
    raw = base64.b64decode(a)
    assert len(raw) == 16 + 32  # IV + two blocks
    assert e("aesDecode", "passkey", a) == "Confidential details"
    assert e("aesDecode", "passkey", b) == "Confidential details"


def test_aes_unicode_empty_and_key_lengths(e: Any) -> None:
    key32 = "k" * 32
    for key in ("", "passkey", key32, "ключ"):
        for text in ("", "ünïcödé €", "x" * 1000):
            assert e("aesDecode", key, e("aesEncode", key, text)) == text
    with pytest.raises(DelugeRuntimeError, match="AES key must be at most 32 bytes"):
        e("aesEncode", "k" * 33, "x")
    with pytest.raises(DelugeRuntimeError, match="AES key must be at most 32 bytes"):
        e("aesDecode", "é" * 17, "x")  # 17 characters but 34 bytes


@pytest.mark.parametrize("iv", ["", "123", "0" * 15, "0" * 17, "é" * 16, None, 1234567890123456])
def test_aes_iv_must_be_16_characters(e: Any, iv: Any) -> None:
    with pytest.raises(DelugeRuntimeError, match="AES IV must be 16 characters"):
        e("aesEncode", "passkey", "x", iv)
    with pytest.raises(DelugeRuntimeError, match="AES IV must be 16 characters"):
        e("aesDecode", "passkey", "AR+ygx+et18UNeIltGh82NBgPQx6Y0hWbEcgN3NVbJA=", iv)


@pytest.mark.parametrize(
    "cipher",
    [
        "",
        "not base64!",
        "AAAA",
        base64.b64encode(bytes(16)).decode(),  # IV only, no ciphertext
        base64.b64encode(bytes(40)).decode(),  # not a block multiple
    ],
)
def test_aes_decode_corrupt_input(e: Any, cipher: str) -> None:
    with pytest.raises(DelugeRuntimeError, match=r"^Decryption failed$"):
        e("aesDecode", "passkey", cipher)


def test_aes_decode_wrong_key(e: Any) -> None:
    c = "F0JOCSWN0Eb2Y//llSoROcsQxHihYnMwCuJSywFaaigEJzQdjnznq7+rSUXy6JlG"
    with pytest.raises(DelugeRuntimeError, match=r"^Decryption failed$"):
        e("aesDecode", "wrongkey", c)


def test_aes_null_text_is_error(e: Any) -> None:
    with pytest.raises(DelugeRuntimeError, match=r"'zoho\.encryption\.aesEncode' expects TEXT"):
        e("aesEncode", "passkey", None)


@pytest.mark.parametrize("name", ["aesEncode128", "aesDecode128"])
def test_aes128_not_supported(e: Any, name: str) -> None:
    with pytest.raises(DelugeRuntimeError, match=f"^'{name}' is not supported$"):
        e(name, "key", "text")
    with pytest.raises(DelugeRuntimeError, match="is not supported"):
        e(name, "key", "text", "0000000000000000", 100)


def test_aes_size_limit() -> None:
    small = FakeContext(limits=Limits(text_chars=50))
    assert len(enc(small, "aesEncode", "k", "x" * 15)) == 44  # IV + 1 block
    with pytest.raises(DelugeLimitError):
        enc(small, "aesEncode", "k", "x" * 16)  # IV + 2 blocks = 64 chars


# ---------------------------------------------------------------------------- digests and HMAC


@pytest.mark.parametrize(
    ("name", "text", "digest"),
    [
        ("md5", "", "d41d8cd98f00b204e9800998ecf8427e"),
        ("md5", "abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("sha1", "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("sha256", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "sha512",
            "abc",
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
        ("SHA256", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ],
)
def test_digests(e: Any, name: str, text: str, digest: str) -> None:
    assert e(name, text) == digest


def test_digest_of_utf8_and_numbers(e: Any) -> None:
    # md5 of the UTF-8 bytes of "é" (c3 a9)
    assert e("md5", "é") == "66ddcd97cfdeabb2f6fb8a999b4bc76f"
    assert e("md5", 123) == e("md5", "123")
    with pytest.raises(DelugeRuntimeError, match="but got null"):
        e("sha256", None)


_JEFE = "what do ya want for nothing?"
# RFC 4231 test case 2 (SHA-256/512) and RFC 2202 test case 2 (MD5/SHA-1).
_HMAC_VECTORS = {
    "hmacmd5": "750c783e6ab0b503eaa86e310a5db738",
    "hmacsha1": "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
    "hmacsha256": "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    "hmacsha512": (
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
    ),
}


@pytest.mark.parametrize(("name", "hexdigest"), sorted(_HMAC_VECTORS.items()))
def test_hmac_known_vectors(e: Any, name: str, hexdigest: str) -> None:
    b64 = base64.b64encode(bytes.fromhex(hexdigest)).decode()
    assert e(name, "Jefe", _JEFE) == b64  # Base64 by default
    assert e(name, "Jefe", _JEFE, "base64") == b64
    assert e(name, "Jefe", _JEFE, "hex") == hexdigest
    assert e(name, "Jefe", _JEFE, "HEX") == hexdigest


def test_hmac_sha256_base64_literal(e: Any) -> None:
    assert e("hmacsha256", "Jefe", _JEFE) == "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="


def test_hmac_bad_format(e: Any) -> None:
    with pytest.raises(DelugeRuntimeError, match='format must be "base64" or "hex"'):
        e("hmacsha256", "k", "m", "binary")
    with pytest.raises(DelugeRuntimeError, match="format must be"):
        e("hmacsha256", "k", "m", None)


def test_hmac_large_message_checks_deadline() -> None:
    class Counting(FakeContext):
        calls = 0

        def check_deadline(self) -> None:
            self.calls += 1

    c = Counting()
    out = enc(c, "hmacsha256", "k", "x" * 3_000_000, "hex")
    assert len(out) == 64
    assert c.calls >= 3

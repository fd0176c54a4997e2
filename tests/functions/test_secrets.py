"""SEC-1 to SEC-3: envelopes, associated data, keyring loading and rotation."""

from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from floodway.functions.secrets import (
    KEY_FILE_NAME,
    DecryptionError,
    Keyring,
    SecretContext,
    SecretKey,
    SecretsKeyError,
    derived_key_id,
    format_key,
    generate_key,
    is_envelope,
    load_keyring,
    parse_keys,
)

CTX = SecretContext("org1", "connections", "billing", "client_secret")


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture
def ring() -> Keyring:
    return Keyring([SecretKey("k1", generate_key())])


def test_sec1_round_trip_and_envelope_shape(ring: Keyring) -> None:
    env = ring.encrypt("s3cr3t-välue", CTX)
    version, key_id, nonce, _sealed = env.split(":")
    assert (version, key_id) == ("v1", "k1")
    assert len(base64.b64decode(nonce)) == 12
    assert "s3cr3t" not in env
    assert is_envelope(env)
    assert ring.decrypt(env, CTX) == "s3cr3t-välue"
    assert ring.decrypt_bytes(ring.encrypt(b"\x00\xff", CTX), CTX) == b"\x00\xff"


def test_sec1_random_nonce_each_time(ring: Keyring) -> None:
    envs = {ring.encrypt("same", CTX) for _ in range(50)}
    assert len(envs) == 50
    assert len({e.split(":")[2] for e in envs}) == 50


@pytest.mark.parametrize(
    "other",
    [
        SecretContext("org2", "connections", "billing", "client_secret"),
        SecretContext("org1", "smtp", "billing", "client_secret"),
        SecretContext("org1", "connections", "payroll", "client_secret"),
        SecretContext("org1", "connections", "billing", "refresh_token"),
        # "|" inside a component cannot shift the boundaries between components
        SecretContext("org1|connections", "billing", "client_secret", ""),
    ],
)
def test_sec1_swapped_associated_data_fails(ring: Keyring, other: SecretContext) -> None:
    env = ring.encrypt("pl41nt3xt", CTX)
    with pytest.raises(DecryptionError) as info:
        ring.decrypt(env, other)
    assert "pl41nt3xt" not in str(info.value)


def test_sec1_key_id_is_bound(ring: Keyring) -> None:
    """An envelope relabelled with another key id of the same keyring does not decrypt."""
    both = Keyring([ring._keys["k1"], SecretKey("k2", generate_key())])
    env = both.encrypt("x" * 10, CTX)
    relabelled = env.replace("v1:k1:", "v1:k2:")
    with pytest.raises(DecryptionError):
        both.decrypt(relabelled, CTX)


@given(data=st.binary(min_size=1, max_size=64), position=st.integers(min_value=0))
@settings(max_examples=60, deadline=None)
def test_sec1_any_flipped_bit_fails(data: bytes, position: int) -> None:
    ring = Keyring([SecretKey("k1", bytes(range(32)))])
    env = ring.encrypt(data, CTX)
    version, key_id, nonce_b64, sealed_b64 = env.split(":")
    blob = bytearray(base64.b64decode(nonce_b64) + base64.b64decode(sealed_b64))
    bit = position % (len(blob) * 8)
    blob[bit // 8] ^= 1 << (bit % 8)
    tampered = f"{version}:{key_id}:{b64(bytes(blob[:12]))}:{b64(bytes(blob[12:]))}"
    with pytest.raises(DecryptionError):
        ring.decrypt_bytes(tampered, CTX)


@pytest.mark.parametrize(
    "bad",
    ["", "plain", "v2:k1:AAAA:AAAA", "v1:k1:notb64!:AAAA", "v1:k 1:AAAA:AAAA", "v1:k1:AAAA:AAAA"],
)
def test_sec1_malformed_envelopes(ring: Keyring, bad: str) -> None:
    with pytest.raises(DecryptionError):
        ring.decrypt(bad, CTX)


def test_sec2_wrong_key_fails_and_unknown_id_names_it(ring: Keyring) -> None:
    env = ring.encrypt("secret", CTX)
    same_id_other_key = Keyring([SecretKey("k1", generate_key())])
    with pytest.raises(DecryptionError):
        same_id_other_key.decrypt(env, CTX)
    other = Keyring([SecretKey("k9", generate_key())])
    with pytest.raises(SecretsKeyError, match="'k1'"):
        other.decrypt(env, CTX)
    with pytest.raises(SecretsKeyError, match="k1"):
        other.require(["k1", "k9"])
    other.require(["k9"])


def test_sec3_rotation(ring: Keyring) -> None:
    old_key = ring._keys["k1"]
    env_old = ring.encrypt("rotate-me", CTX)
    new = Keyring([SecretKey("k2", generate_key()), old_key])
    assert new.active_id == "k2"
    assert new.needs_rotation(env_old)
    env_new = new.rotate(env_old, CTX)
    assert new.key_id_of(env_new) == "k2"
    assert not new.needs_rotation(env_new)
    assert new.decrypt(env_new, CTX) == "rotate-me"
    assert new.rotate(env_new, CTX) == env_new  # already under the active key
    # Retiring k1 is safe only once nothing uses it.
    retired = Keyring([new._keys["k2"]])
    assert retired.decrypt(env_new, CTX) == "rotate-me"
    with pytest.raises(SecretsKeyError):
        retired.decrypt(env_old, CTX)
    # Rotation verifies: a tampered or moved envelope is not silently re-encrypted.
    with pytest.raises(DecryptionError):
        new.rotate(env_old, SecretContext("org2", "connections", "billing", "client_secret"))


def test_keyring_repr_hides_keys(ring: Keyring) -> None:
    raw = ring._keys["k1"].key
    assert b64(raw) not in repr(ring)
    assert b64(raw) not in repr(ring._keys["k1"])
    assert "k1" in repr(ring)


def test_parse_keys_forms() -> None:
    k1, k2 = generate_key(), generate_key()
    keys = parse_keys(f"new:{b64(k1)}, old:{b64(k2)}")
    assert [k.id for k in keys] == ["new", "old"]
    assert keys[0].key == k1
    bare = parse_keys(b64(k1))
    assert bare[0].id == derived_key_id(k1)
    assert parse_keys(f"# comment\n{format_key(keys[1])}\n")[0].key == k2
    for bad in ("", "a:b", f"x:{b64(b'short')}", f"a b:{b64(k1)}", f"a:{b64(k1)},a:{b64(k2)}"):
        with pytest.raises(SecretsKeyError) as info:
            parse_keys(bad)
        assert b64(k1) not in str(info.value)


# -- loading (SEC-2) -------------------------------------------------------------------------


def test_sec2_env_value_wins(tmp_path: Path) -> None:
    raw = generate_key()
    loaded = load_keyring(f"env1:{b64(raw)}", data_dir=tmp_path)
    assert loaded.source == "environment"
    assert loaded.keyring.active_id == "env1"
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_sec2_key_file_created_0600_and_reused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    with caplog.at_level(logging.INFO):
        first = load_keyring(None, data_dir=data)
    path = data / KEY_FILE_NAME
    assert first.created and first.path == path and first.source == "file"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key_line = next(ln for ln in path.read_text().splitlines() if not ln.startswith("#"))
    assert key_line.split(":", 1)[1] not in caplog.text  # never logged
    assert first.keyring.active_id in caplog.text  # but its id is
    env = first.keyring.encrypt("persisted", CTX)
    second = load_keyring(None, data_dir=data)
    assert not second.created
    assert second.keyring.decrypt(env, CTX) == "persisted"


def test_sec2_no_generation_when_not_allowed(tmp_path: Path) -> None:
    with pytest.raises(SecretsKeyError, match="none may be generated"):
        load_keyring(None, data_dir=tmp_path, create=False)
    assert not (tmp_path / KEY_FILE_NAME).exists()
    with pytest.raises(SecretsKeyError, match="FLOODWAY_SECRET_KEY"):
        load_keyring(None)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_sec2_readable_key_file_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / KEY_FILE_NAME
    path.write_text(format_key(SecretKey("k1", generate_key())))
    os.chmod(path, mode)
    with pytest.raises(SecretsKeyError, match="chmod 600"):
        load_keyring(None, data_dir=tmp_path)
    with pytest.raises(SecretsKeyError, match="readable by group or others"):
        load_keyring(None, key_file=path)


def test_sec2_explicit_key_file(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.key"
    raw = generate_key()
    path.write_text(f"k7:{b64(raw)}\n")
    os.chmod(path, 0o600)
    loaded = load_keyring(None, key_file=path, data_dir=tmp_path / "unused")
    assert loaded.keyring.active_id == "k7" and loaded.path == path
    with pytest.raises(SecretsKeyError, match="cannot read"):
        load_keyring(None, key_file=tmp_path / "missing.key")
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    os.chmod(bad, 0o600)
    with pytest.raises(SecretsKeyError, match="base64"):
        load_keyring(None, key_file=bad)

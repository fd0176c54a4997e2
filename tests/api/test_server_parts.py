"""Pieces of ``floodway.server`` that need no running server."""

from __future__ import annotations

import base64
import os
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest

from floodway.functions.secrets import DecryptionError, SecretsKeyError
from floodway.server import KeyringSealer, StartupError, base_url, bind_socket, load_secrets


def test_sealer_round_trip_and_binding(tmp_path: Path) -> None:
    sealer = KeyringSealer(load_secrets(None, tmp_path))
    key_file = tmp_path / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    sealed = sealer.seal("1003.abc", "1|org_api_keys|7|sealed")
    assert sealed.startswith(f"v1:{sealer.keyring.active_id}:") and "1003.abc" not in sealed
    again = KeyringSealer(load_secrets(None, tmp_path))  # the same key file is reused
    assert again.unseal(sealed, "1|org_api_keys|7|sealed") == "1003.abc"
    with pytest.raises(DecryptionError):  # moved to another row: does not decrypt
        again.unseal(sealed, "1|org_api_keys|8|sealed")
    other = KeyringSealer(load_secrets(None, tmp_path / "elsewhere"))
    with pytest.raises(SecretsKeyError, match="not in the keyring"):
        other.unseal(sealed, "1|org_api_keys|7|sealed")


def test_sealer_refuses_readable_key_and_takes_setting(tmp_path: Path) -> None:
    load_secrets(None, tmp_path)
    key_file = tmp_path / "secret.key"
    key_file.chmod(0o644)
    with pytest.raises(StartupError, match=r"secret\.key"):
        load_secrets(None, tmp_path)
    configured = KeyringSealer(
        load_secrets(
            SimpleNamespace(secret_key=base64.b64encode(os.urandom(32)).decode()), tmp_path
        )
    )
    assert configured.unseal(configured.seal("x", "a"), "a") == "x"


def test_bind_any_free_port() -> None:
    sock = bind_socket("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        assert port > 0
        # asyncio sets TCP_NODELAY on accepted connections only for sockets that say they are
        # TCP; without it small responses wait 40 ms for a delayed ACK.
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert base_url("127.0.0.1", port) == f"http://127.0.0.1:{port}"
        assert base_url("::1", 8000) == "http://[::1]:8000"
    finally:
        sock.close()

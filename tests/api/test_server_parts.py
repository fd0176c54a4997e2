"""Pieces of ``floodway.server`` that need no running server."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.exceptions import InvalidTag

from floodway.server import KeyFileSealer, StartupError, base_url, bind_socket


def test_sealer_round_trip_and_binding(tmp_path: Path) -> None:
    sealer = KeyFileSealer.for_settings(None, tmp_path)
    key_file = tmp_path / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    sealed = sealer.seal("1003.abc", "1|org_api_keys|7|sealed")
    assert sealed.startswith(f"v1:{sealer.key_id}:") and "1003.abc" not in sealed
    again = KeyFileSealer.for_settings(None, tmp_path)  # the same key file is reused
    assert again.unseal(sealed, "1|org_api_keys|7|sealed") == "1003.abc"
    with pytest.raises(InvalidTag):  # moved to another row: does not decrypt
        again.unseal(sealed, "1|org_api_keys|8|sealed")
    other = KeyFileSealer(os.urandom(32))
    with pytest.raises(ValueError, match="not the configured key"):
        other.unseal(sealed, "1|org_api_keys|7|sealed")


def test_sealer_refuses_readable_key_and_takes_setting(tmp_path: Path) -> None:
    key_file = tmp_path / "secret.key"
    key_file.write_bytes(os.urandom(32))
    key_file.chmod(0o644)
    with pytest.raises(StartupError, match="chmod 600"):
        KeyFileSealer.for_settings(None, tmp_path)
    configured = KeyFileSealer.for_settings(SimpleNamespace(secret_key="ab" * 32), tmp_path)
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

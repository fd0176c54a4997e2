"""``floodway serve``: open the CRM, build the API app and run it on uvicorn.

Start-up: the data directory and database are created and migrated when missing, the org seeded
and, on the very first start, an admin user created whose generated password is printed once
together with the base URL. Shutdown on SIGTERM/SIGINT is uvicorn's graceful one: the listening
socket closes, requests in flight (and their write transactions) finish, then the database engine
is disposed, so no acknowledged write is lost.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("floodway.server")

GRACEFUL_SHUTDOWN_S = 30


class StartupError(Exception):
    """A start-up problem the operator can fix; the CLI prints the message, no traceback."""


@dataclass(frozen=True, slots=True)
class Opened:
    crm: Any
    sealer: KeyFileSealer
    created: bool
    admin_email: str | None
    admin_password: str | None


def open_crm(settings: Any, *, database_url: str | None = None) -> Opened:
    """The CRM of the settings' data directory / database, initialised as a first start does."""
    from .crm import Crm
    from .db import DEFAULT_DATA_DIR, init_data_dir

    data_dir = Path(getattr(settings, "data", None) or DEFAULT_DATA_DIR)
    init_data_dir(data_dir)
    url = database_url or getattr(settings, "database_url", None)
    crm, first = Crm.open(settings, database_url=url, data_dir=data_dir)
    sealer = KeyFileSealer.for_settings(settings, data_dir)
    return Opened(
        sealer=sealer,
        crm=crm,
        created=bool(getattr(first, "created", False)),
        admin_email=getattr(first, "admin_email", None),
        admin_password=getattr(first, "admin_password", None),
    )


SECRET_KEY_FILE = "secret.key"  # noqa: S105  a file name, not a secret


class KeyFileSealer:
    """AES-256-GCM for display copies of secrets (security.md SEC-1), key outside the database.

    The key comes from the ``secret_key`` setting (``FLOODWAY_SECRET_KEY``, 64 hex characters) or
    ``<data>/secret.key``, which an embedded first start creates (0600); a group- or
    world-readable key file stops start-up (SEC-2). Sealed form: ``v1:<key id>:<nonce>:<ct>``
    with the associated data binding it to its row. A placeholder for the secrets layer's keyring.
    """

    def __init__(self, key: bytes) -> None:
        import hashlib

        if len(key) != 32:
            raise ValueError("the secret key must be 32 bytes")
        self._key = key
        self.key_id = hashlib.sha256(key).hexdigest()[:8]

    @classmethod
    def for_settings(cls, settings: Any, data_dir: Path) -> KeyFileSealer:
        configured = getattr(settings, "secret_key", None)
        if configured:
            try:
                return cls(bytes.fromhex(str(configured).strip()))
            except ValueError:
                raise StartupError("the secret key setting must be 64 hex characters") from None
        path = data_dir / SECRET_KEY_FILE
        if not path.exists():
            import os
            import secrets

            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
            log.warning("created the secret key %s (keep it with your backups)", path)
        mode = path.stat().st_mode
        if mode & 0o077:
            raise StartupError(
                f"{path} is readable by other users (mode {mode & 0o777:o}); chmod 600 it"
            )
        return cls(path.read_bytes())

    def seal(self, plaintext: str, aad: str) -> str:
        import base64
        import secrets

        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = secrets.token_bytes(12)
        ct = AESGCM(self._key).encrypt(nonce, plaintext.encode(), f"{aad}|{self.key_id}".encode())
        b64 = base64.urlsafe_b64encode
        return f"v1:{self.key_id}:{b64(nonce).decode()}:{b64(ct).decode()}"

    def unseal(self, sealed: str, aad: str) -> str:
        import base64

        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        version, key_id, nonce, ct = sealed.split(":")
        if version != "v1" or key_id != self.key_id:
            raise ValueError(f"sealed with key {key_id}, which is not the configured key")
        plain = AESGCM(self._key).decrypt(
            base64.urlsafe_b64decode(nonce),
            base64.urlsafe_b64decode(ct),
            f"{aad}|{key_id}".encode(),
        )
        return plain.decode()


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before uvicorn starts, so ``--port 0`` works and the real port can be printed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # socket says it is TCP; without it Nagle plus delayed ACK add 40 ms to small responses.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(
    settings: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    database_url: str | None = None,
    echo: Callable[[str], None] = print,
) -> None:
    import uvicorn

    from .api.app import create_app
    from .api.config import ApiConfig

    opened = open_crm(settings, database_url=database_url)
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    real_port = sock.getsockname()[1]
    url = base_url(host, real_port)
    if opened.created and opened.admin_password:
        echo("floodway: created a new org with an admin user (shown once):")
        echo(f"  email:    {opened.admin_email}")
        echo(f"  password: {opened.admin_password}")
    app = create_app(
        opened.crm, settings, config=ApiConfig.from_settings(settings), sealer=opened.sealer
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        echo(f"floodway: serving on {url}")
        log.info("serving", extra={"url": url})
        try:
            yield
        finally:
            log.info("shutting down")
            _dispose(opened.crm)

    app.router.lifespan_context = lifespan
    config = uvicorn.Config(
        app,
        lifespan="on",
        access_log=False,  # SEC-6: uvicorn's access log prints query strings
        log_config=None,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        h11_max_incomplete_event_size=64 * 1024,
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises the signal that stopped it once the graceful shutdown is over; with a
    # no-op handler in place that last step is silent and a SIGTERM stop exits with status 0.
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()


def _ignore(signum: int, frame: Any) -> None:
    return None


def _dispose(crm: Any) -> None:
    for name in ("close", "dispose"):
        fn = getattr(crm, name, None)
        if callable(fn):
            fn()
            return
    engine = getattr(crm, "engine", None)
    if engine is not None:
        engine.dispose()

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

from .functions.secrets import Keyring, SecretContext, SecretsKeyError, load_keyring

log = logging.getLogger("floodway.server")

GRACEFUL_SHUTDOWN_S = 30


class StartupError(Exception):
    """A start-up problem the operator can fix; the CLI prints the message, no traceback."""


@dataclass(frozen=True, slots=True)
class Opened:
    crm: Any
    sealer: KeyringSealer
    keyring: Keyring
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
    keyring = load_secrets(settings, data_dir)
    return Opened(
        sealer=KeyringSealer(keyring),
        keyring=keyring,
        crm=crm,
        created=bool(getattr(first, "created", False)),
        admin_email=getattr(first, "admin_email", None),
        admin_password=getattr(first, "admin_password", None),
    )


class KeyringSealer:
    """The CRM's ``Sealer`` (encrypted display copies, security.md SEC-1) over the secrets
    keyring, so the API key and connection secrets share one key and one format."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    @staticmethod
    def _context(aad: str) -> SecretContext:
        return SecretContext("", "sealed", aad, "value")

    def seal(self, plaintext: str, aad: str) -> str:
        return self.keyring.encrypt(plaintext, self._context(aad))

    def unseal(self, sealed: str, aad: str) -> str:
        return self.keyring.decrypt(sealed, self._context(aad))


def load_secrets(settings: Any, data_dir: Path) -> Keyring:
    """The secrets keyring: ``FLOODWAY_SECRET_KEY`` or ``<data>/secret.key`` (created 0600 on a
    first start). Several nodes on one database must be given the same key in the environment."""
    try:
        loaded = load_keyring(getattr(settings, "secret_key", None), data_dir=data_dir)
    except SecretsKeyError as exc:
        raise StartupError(str(exc)) from None
    return loaded.keyring  # a newly created key file is logged by load_keyring


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
    from .functions.service import Functions

    crm, sealer = opened.crm, opened.sealer
    functions = Functions(
        crm, settings, keyring=opened.keyring, zapikey=lambda: crm.oauth.api_key(sealer)
    )
    app = create_app(
        crm, settings, config=ApiConfig.from_settings(settings), sealer=sealer, functions=functions
    )

    from .functions.delivery import DeliveryLoop, smtp_from_settings

    smtp = smtp_from_settings(settings)
    mail = DeliveryLoop(functions, smtp) if smtp is not None else None

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        echo(f"floodway: serving on {url}")
        log.info("serving", extra={"url": url})
        if mail is not None:
            mail.start()
        try:
            yield
        finally:
            log.info("shutting down")
            if mail is not None:
                mail.stop()
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

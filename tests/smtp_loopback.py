"""A real SMTP server for tests: aiosmtpd on an OS-chosen port of 127.0.0.1."""

from __future__ import annotations

from aiosmtpd.controller import Controller


class LoopbackController(Controller):
    """aiosmtpd's controller on port 0 of 127.0.0.1: the port the OS chose is read back before
    the controller's start-up check connects to it."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

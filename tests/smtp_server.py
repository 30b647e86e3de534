"""A real in-process SMTP server (aiosmtpd) that records what it accepts."""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from email.message import Message

from aiosmtpd.controller import Controller


class RecordingHandler:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        # threading.Event: the controller serves from its own thread and loop.
        self.hold = threading.Event()
        self.hold.set()
        self.receiving = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.receiving.set()
        # A test can stall delivery here, e.g. to kill the sending worker mid-job.
        while not self.hold.is_set():
            await asyncio.sleep(0.05)
        if server.transport is None or server.transport.is_closing():
            return "421 sender went away"  # the client died: nothing was delivered
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SMTPServer:
    def __init__(self) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> "SMTPServer":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.handler.hold.set()
        self.controller.stop()

"""textual-serve's server with fitscope's start-up lines, page links that follow the address the
browser used (so `ssh -L 9000:localhost:8000` works as well as the same port), and a stop that
ends the apps: on Ctrl+C or SIGTERM textual-serve waited up to a minute for every open page to
close, its apps running on."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from textual_serve.server import Server as _Server

STOP_WAIT = 8.0  # seconds the server waits for its apps to end (each has web_exit's grace on top of its own)


class Server(_Server):
    def __init__(self, command: str, *, host: str, port: int, title: str, lines: list[str]):
        super().__init__(command, host=host, port=port, title=title)
        self.lines = lines
        self._pages: set[asyncio.Task[Any]] = set()

    async def on_startup(self, app: web.Application) -> None:
        for line in self.lines:
            self.console.print(line, highlight=False, markup=False, soft_wrap=True)

    async def on_shutdown(self, app: web.Application) -> None:
        # a page's handler, cancelled, tells its app to quit and waits for it to end
        for task in self._pages:
            task.cancel()
        if self._pages:
            await asyncio.wait(self._pages, timeout=STOP_WAIT)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        task = asyncio.current_task()
        assert task is not None
        self._pages.add(task)
        try:
            return await super().handle_websocket(request)
        finally:
            self._pages.discard(task)

    async def handle_index(self, request: web.Request) -> Any:
        # the page's websocket and static links are built from public_url: the address the browser
        # asked for, not the one bound (0.0.0.0, or a tunnel's far end)
        self.public_url = f"{request.scheme}://{request.host}"
        return await super().handle_index(request)

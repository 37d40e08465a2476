"""Serving the web catalog from a thread of the calling process (`mesh up`, tests, benchmark).

uvicorn runs in a daemon thread: it installs no signal handlers there, so the caller keeps
Ctrl-C and stops the server with `stop()`. Logging is left as the caller set it up.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import uvicorn

from mesh_platform.errors import MeshError
from mesh_platform.web.app import create_app
from mesh_platform.web.source import CatalogSource, WebSettings

START_SECONDS = 30.0
STOP_SECONDS = 10.0


@dataclass
class CatalogServer:
    """The web catalog on `host:port` (loopback by default) until `stop()`."""

    settings: WebSettings
    host: str = "127.0.0.1"
    port: int = 3001
    _server: uvicorn.Server | None = field(default=None, init=False, repr=False)
    _source: CatalogSource | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        """Where the catalog answers."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> CatalogServer:
        """Start serving; returns once the port listens (port 0: a free one, then `port` says
        which). Raises MeshError if it cannot."""
        app = create_app(self.settings)
        config = uvicorn.Config(
            app,
            host=self.host,
            port=self.port,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="mesh-web-catalog", daemon=True)
        thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise MeshError(
                    f"the web catalog could not serve on {self.host}:{self.port}. "
                    f"Fix: choose another port with --catalog-port"
                )
            time.sleep(0.05)
        self._server, self._thread, self._source = server, thread, app.state.source
        if self.port == 0:
            self.port = int(server.servers[0].sockets[0].getsockname()[1])
        return self

    def warm(self) -> None:
        """Load the mesh and sync the catalog now rather than on the first request."""
        if self._source is not None:
            self._source.warm()

    def stop(self) -> None:
        """Stop serving (open requests get a moment to finish)."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=STOP_SECONDS)
        self._server = self._thread = None

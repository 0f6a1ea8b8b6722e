"""The gateway process: load the default model once, listen, flush usage to the database."""

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from redis.asyncio import Redis

from gateway.api import Gateway, card_info
from gateway.backends import Registry
from gateway.errors import ApiError
from gateway.httpserver import close_connections, start_tcp, start_unix
from gateway.models import BackendKind, ModelCard, ModelKind
from gateway.services import usage_flush

log = logging.getLogger(__name__)
SOCKET_NAME = "gateway.sock"
FLUSH_EVERY_S = 10.0


def socket_path() -> Path:
    """Where sandboxes find the gateway: GATEWAY_SOCKET_DIR/gateway.sock."""
    return Path(settings.GATEWAY_SOCKET_DIR) / SOCKET_NAME


def start_engines(registry: Registry) -> None:
    """Start the llama.cpp engines of the active catalog; they load in the background."""
    for card in ModelCard.objects.filter(active=True, backend=BackendKind.LLAMA_CPP):
        try:
            registry.get(card_info(card))
        except ApiError as error:
            log.error("%s is not served: %s", card.name, error.message)
        else:
            log.info("Loading %s in the background", card.name)


def preload(registry: Registry) -> None:
    """Load every active local embedding model (a request for one meanwhile waits for it)."""
    cards = ModelCard.objects.filter(
        active=True, kind=ModelKind.EMBEDDING, backend=BackendKind.SENTENCE_TRANSFORMERS
    )
    for card in cards:
        backend = registry.get(card_info(card))
        backend.embed(["warm up"])  # the first call pays for lazy initialisation
        log.info("Loaded %s", card.name)


@dataclass
class GatewayProcess:
    registry: Registry
    socket: Path
    host: str | None = None
    port: int | None = None
    servers: list[asyncio.Server] = field(default_factory=list)
    gateway: Gateway | None = None
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    clock: Callable[[], float] = time.time

    async def start(self) -> Gateway:
        redis = Redis.from_url(settings.REDIS_URL)
        self.gateway = Gateway(registry=self.registry, redis=redis, clock=self.clock)
        limit = settings.GATEWAY_MAX_BODY_BYTES
        self.servers.append(await start_unix(self.gateway.handle, self.socket, max_body=limit))
        if self.port is not None:
            host = self.host or "127.0.0.1"
            self.servers.append(
                await start_tcp(self.gateway.handle, host, self.port, max_body=limit)
            )
        return self.gateway

    @property
    def tcp_port(self) -> int | None:
        for server in self.servers[1:]:
            return int(server.sockets[0].getsockname()[1])
        return None

    async def run(self) -> None:
        """Serve until `stop()`, flushing usage every FLUSH_EVERY_S and once more at the end."""
        gateway = self.gateway or await self.start()
        try:
            while not self.stopped.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopped.wait(), FLUSH_EVERY_S)
                await self._flush(gateway)
        finally:
            for server in self.servers:
                server.close()
            await close_connections()
            await gateway.redis.aclose()
            gateway.close()

    async def _flush(self, gateway: Gateway) -> None:
        try:
            await gateway.in_db(usage_flush)
        except Exception:
            log.exception("Usage flush failed; it is retried at the next one")

    def stop(self) -> None:
        self.stopped.set()


async def serve_forever(process: GatewayProcess) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, process.stop)
    await process.start()
    log.info("Model gateway on %s and %s:%s", process.socket, process.host, process.port)
    await process.run()

import asyncio
import logging
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from gateway.backends import Registry
from gateway.process import GatewayProcess, preload, serve_forever, socket_path, start_engines

log = logging.getLogger(__name__)


def _preload(registry: Registry) -> None:
    try:
        preload(registry)
    except Exception:
        log.exception("Loading the embedding models failed; they load on first use")
    finally:
        connection.close()


class Command(BaseCommand):
    help = "Run the model gateway: the unix socket for sandboxes and a TCP port for people."

    def handle(self, *args: Any, **options: Any) -> None:
        registry = Registry()
        try:
            start_engines(registry)
            # The gateway listens (and answers /healthz) while its models load.
            threading.Thread(
                target=_preload, args=(registry,), name="gateway-preload", daemon=True
            ).start()
            process = GatewayProcess(
                registry=registry,
                socket=socket_path(),
                host=settings.GATEWAY_HOST,
                port=settings.GATEWAY_PORT,
            )
            asyncio.run(serve_forever(process))
        finally:
            registry.close()

import asyncio
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from gateway.backends import Registry
from gateway.process import GatewayProcess, preload, serve_forever, socket_path


class Command(BaseCommand):
    help = "Run the model gateway: the unix socket for sandboxes and a TCP port for people."

    def handle(self, *args: Any, **options: Any) -> None:
        registry = Registry()
        try:
            preload(registry)
        except BaseException:
            registry.close()
            raise
        process = GatewayProcess(
            registry=registry,
            socket=socket_path(),
            host=settings.GATEWAY_HOST,
            port=settings.GATEWAY_PORT,
        )
        try:
            asyncio.run(serve_forever(process))
        finally:
            registry.close()

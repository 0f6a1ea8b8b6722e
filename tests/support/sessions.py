"""Driving a learner's live notebook session as its page does: run requests over HTTP, the
session's events read from its Server-Sent Events stream."""

import asyncio
import json

from django.test import AsyncClient


async def _collect(user, url: str, *, until, timeout: float, subscribed) -> list[dict]:
    """Events of the session's stream until `until(events)` says enough; `subscribed` is set
    at the first event (the view subscribes before it says hello)."""
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.get(url)
    events: list[dict] = []

    async def read() -> None:
        async for chunk in response.streaming_content:
            for block in chunk.decode().split("\n\n"):
                if block.startswith("data: "):
                    events.append(json.loads(block[6:]))
                    subscribed.set()
            if until(events):
                return

    try:
        await asyncio.wait_for(read(), timeout=timeout)
    except TimeoutError:
        print("events so far:", events)  # what the stream said, to see what is missing
        raise
    return events


def follow(user, base: str, *steps, until, timeout: float = 60) -> list[dict]:
    """Open the session's stream, then do `steps` (callables, or seconds to wait) in order;
    returns the stream's events once `until` says enough."""

    async def scenario() -> list[dict]:
        subscribed = asyncio.Event()
        url = base + "kernel/events"
        task = asyncio.create_task(
            _collect(user, url, until=until, timeout=timeout, subscribed=subscribed)
        )
        await asyncio.wait_for(subscribed.wait(), timeout=30)
        for step in steps:
            if callable(step):
                await asyncio.to_thread(step)
            else:
                await asyncio.sleep(step)
        return await task

    return asyncio.run(scenario())


def run(client, base: str, *cells: tuple[str, str]):
    """A step: run cells (key, code) in the session."""

    def post() -> None:
        body = json.dumps({"cells": [{"key": key, "code": code} for key, code in cells]})
        response = client.post(base + "kernel/run", body, "application/json")
        assert response.status_code == 202, response.content

    return post


def finished(count: int):
    return lambda events: (
        sum(e.get("state") in ("done", "error", "skipped") for e in events) >= count
    )


def outputs(events: list[dict]) -> list[dict]:
    return [e["output"] for e in events if e["type"] == "output"]

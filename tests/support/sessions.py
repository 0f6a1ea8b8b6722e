"""Driving a learner's live notebook session as its page does: run requests over HTTP, the
session's events read from its Server-Sent Events stream, steps that wait on events (never
on the clock)."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections
from django.test import AsyncClient


async def _collect(user, url: str, *, events: list[dict], arrived, until) -> None:
    """Append the session stream's events to `events` until `until(events)` says enough;
    `arrived` is set at each one."""
    # Django's database calls from async code run in one thread that outlives a test: it may
    # hold a connection an earlier test's database cut dropped (test_recovery). Give it
    # back first, as every request's start does; the pool checks the next one it hands out.
    await sync_to_async(close_old_connections)()
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.get(url)
    async for chunk in response.streaming_content:
        for block in chunk.decode().split("\n\n"):
            if block.startswith("data: "):
                events.append(json.loads(block[6:]))
                arrived.set()
        if until(events):
            return


async def _seen(events: list[dict], arrived, predicate) -> None:
    while not predicate(events):
        arrived.clear()
        await arrived.wait()


class Seen:
    """A step: wait until the stream's events so far satisfy `predicate`."""

    def __init__(self, predicate) -> None:
        self.predicate = predicate


def printed(cell: str, text: str):
    """The cell's output so far holds `text`: it is surely running now. One print can come
    in several outputs (the kernel's timed flush may send 'sleeping' before its '\\n')."""

    def holds(events: list[dict]) -> bool:
        outputs = [e["output"] for e in events if e.get("cell") == cell and e["type"] == "output"]
        return text in "".join(str(o.get("text", "")) for o in outputs)

    return Seen(holds)


def _closing_connections(step) -> None:
    """Run `step` in this (short-lived) thread, then give its database connection back: the
    test client never closes it, and a connection left in a finished thread stays taken
    from PostgreSQL's pool until the pool is exhausted."""
    try:
        step()
    finally:
        connections.close_all()


def follow(user, base: str, *steps, until, timeout: float = 300) -> list[dict]:
    """Open the session's stream, then do `steps` (callables, or Seen) in order; returns
    the stream's events once `until` says enough. `timeout` only bounds a failing test."""

    async def scenario() -> list[dict]:
        events: list[dict] = []
        arrived = asyncio.Event()
        url = base + "kernel/events"
        task = asyncio.create_task(_collect(user, url, events=events, arrived=arrived, until=until))
        # the view subscribes before it says hello: the first event means we hear everything
        await _seen(events, arrived, bool)
        for step in steps:
            if isinstance(step, Seen):
                await _seen(events, arrived, step.predicate)
            else:
                await asyncio.to_thread(_closing_connections, step)
        await task
        return events

    try:
        return asyncio.run(asyncio.wait_for(scenario(), timeout=timeout))
    except TimeoutError:
        pytest.fail(f"the session's stream did not say what was expected within {timeout} s")


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

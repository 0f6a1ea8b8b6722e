"""A learner's cell streams a chat from the default model (SmolLM2-135M-Instruct in the real
engine, through the real gateway's socket, from a real sandboxed kernel held by a real
interactive worker): the page shows the first piece while the cell is still running.

No timing assumption: the cell prints the stream's first piece, then waits until the
learner presses Interrupt (a KeyboardInterrupt it catches), then prints the rest. So the
first piece can only be on the page before the cell ends if outputs travel live."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import Browser, Page, expect

from campus.models import User
from courses.demo.services import DEMO_COURSE_SLUG, DEMO_EXERCISE_SLUG, DEMO_ORG_SLUG
from gateway.backends import CardInfo, Registry
from gateway.backends.llamacpp import LlamaCppBackend
from gateway.models import BackendKind, ModelKind
from tests.browser.server import web_server
from tests.support.browser import WAIT_MS, shot
from tests.support.gateway import MINILM, RunningGateway, minilm_card, smollm2_card
from tests.support.worker import celery_worker

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.xdist_group("gateway-sandbox"),
]

EXERCISE = f"/courses/{DEMO_ORG_SLUG}/{DEMO_COURSE_SLUG}/exercises/{DEMO_EXERCISE_SLUG}/"
KERNEL_MS = 300_000  # a failure bound: the first run starts a sandboxed kernel
STREAMING_CELL = """\
import time
import open_models

stream = open_models.chat("Name three planets.", max_tokens=24, temperature=0, stream=True)
print(next(stream), end="", flush=True)
try:
    time.sleep(600)  # until the learner presses Interrupt
except KeyboardInterrupt:
    pass
for piece in stream:
    print(piece, end="", flush=True)
"""


@pytest.fixture
def chat_gateway_here(minilm: Any, smollm2: LlamaCppBackend) -> Iterator[RunningGateway]:
    """The gateway with both models, on this test process's Redis database: the one the
    worker writes grants to and the test's Celery app pings it on (the shared `gateway`
    fixture picks a database of its own)."""
    registry = Registry()
    minilm_card()
    registry.add(
        CardInfo(MINILM, ModelKind.EMBEDDING, BackendKind.SENTENCE_TRANSFORMERS, ""), minilm
    )
    card = smollm2_card()
    registry.add(CardInfo(card.name, card.kind, card.backend, card.location), smollm2)
    running = RunningGateway(registry)
    yield running
    running.stop()


@pytest.fixture
def live_with_models(chat_gateway_here: RunningGateway) -> Iterator[str]:
    """The web server and an interactive worker whose kernels reach the chat gateway."""
    call_command("seed_demo", password="browser-test-password")
    gateway_dir = str(chat_gateway_here.socket.parent)
    with celery_worker(
        queues="default,grading,interactive", pool="threads",
        env={"GATEWAY_SOCKET_DIR": gateway_dir},
    ), web_server() as url:  # fmt: skip
        yield url


@pytest.fixture
def learner_page(browser: Browser, live_with_models: str) -> Iterator[Page]:
    client = Client()
    client.force_login(User.objects.get(email="student@demo.edu"))
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    session = client.cookies["sessionid"].value
    context.add_cookies([{"name": "sessionid", "value": session, "url": live_with_models}])
    page = context.new_page()
    page.goto(live_with_models + EXERCISE)
    yield page
    context.close()


def test_streamed_chat_pieces_appear_while_the_cell_still_runs(learner_page: Page) -> None:
    page = learner_page
    cell = page.locator("li.cell[data-number='4']")
    # given the learner's streaming cell in the answer cell's editor
    page.evaluate(
        "code => document.querySelector(\"li.cell[data-number='4'] .CodeMirror\")"
        ".CodeMirror.setValue(code)",
        STREAMING_CELL,
    )
    # when they run it
    cell.get_by_role("button", name="Run cell").click()
    # then the model's first piece is on the page while the cell is still running
    outputs = cell.locator(".outputs > *")
    expect(outputs.first).to_be_attached(timeout=KERNEL_MS)
    shot(page, "stream-01-first-piece-while-running")
    stream = cell.locator("pre.output.stream")
    assert stream.count() == 1, (cell.inner_text(), page.locator("#kernel-status").inner_text())
    first = stream.text_content() or ""
    assert first
    expect(cell).to_have_attribute("data-state", "running")
    expect(page.locator("#kernel-status")).to_have_attribute("data-state", "running")
    # and the rest follows once they let the cell go on
    page.get_by_role("button", name="Interrupt").click()
    expect(cell).to_have_attribute("data-state", "done")
    rest = stream.text_content() or ""
    assert rest.startswith(first) and len(rest) > len(first)
    shot(page, "stream-02-whole-reply")

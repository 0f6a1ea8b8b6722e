"""A class submitting through the real web server, and what became of every submission.

Used by bench.throughput (in a process where `Stack.django()` was called): students get
sessions made directly (200 password hashes would measure PBKDF2) and a CSRF cookie of their
own; each submission is a fresh HTTP connection, as a browser after think time would open.
The drain is read from the database: the time from the first submission sent to the last
grade saved, and per submission whether it was lost, graded twice or scored wrongly.
"""

from __future__ import annotations

import http.client
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from bench.stack import percentile


@dataclass(frozen=True)
class Student:
    user_id: int
    cookie: str  # the Cookie header: session and CSRF token
    csrf: str


@dataclass
class Sent:
    """What the web server answered to the submissions of one phase."""

    first_sent: float = 0.0  # wall-clock time (time.time()) of the first submission sent
    last_sent: float = 0.0
    expected: dict[int, Decimal] = field(default_factory=dict)  # accepted id → right score
    refused: dict[str, int] = field(default_factory=dict)  # HTTP status or error → count
    lock: threading.Lock = field(default_factory=threading.Lock)


def enroll_students(count: int) -> list[Student]:
    """`count` new students enrolled in every cohort, each with a logged-in session."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from campus.models import User
    from courses.models import Cohort, Enrollment

    users = [User(email=f"storm{n}-{secrets.token_hex(3)}@bench.test") for n in range(count)]
    for user in users:
        user.set_unusable_password()  # they arrive with a session, never log in
    users = User.objects.bulk_create(users)
    Enrollment.objects.bulk_create(
        Enrollment(user=user, cohort=cohort) for cohort in Cohort.objects.all() for user in users
    )
    students = []
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        csrf = secrets.token_hex(16)  # a 32-character secret, as Django's cookie holds
        cookie = f"{settings.SESSION_COOKIE_NAME}={session.session_key}; csrftoken={csrf}"
        students.append(Student(user_id=user.pk, cookie=cookie, csrf=csrf))
    return students


def submit(url: str, path: str, student: Student, notebook: bytes) -> tuple[int, Any]:
    """POST one notebook as `student` on a new connection: (HTTP status, JSON body)."""
    target = urlsplit(url)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
    try:
        connection.request(
            "POST",
            path,
            body=notebook,
            headers={
                "Content-Type": "application/json",
                "Cookie": student.cookie,
                "X-CSRFToken": student.csrf,
                "Referer": url,
            },
        )
        response = connection.getresponse()
        body = response.read()
        try:
            return response.status, json.loads(body)
        except ValueError:
            return response.status, None
    finally:
        connection.close()


def send(
    url: str,
    plan: list[tuple[float, Student, str, bytes, Decimal]],
    sent: Sent,
) -> None:
    """Send each planned submission (offset in seconds from now, student, path, notebook,
    its right score) at its time, one thread per student, each in its own order."""
    by_student: dict[int, list[tuple[float, Student, str, bytes, Decimal]]] = {}
    for item in plan:
        by_student.setdefault(item[1].user_id, []).append(item)
    started = time.monotonic()
    sent.first_sent = 0.0

    def student_thread(items: list[tuple[float, Student, str, bytes, Decimal]]) -> None:
        for offset, student, path, notebook, score in sorted(items, key=lambda i: i[0]):
            delay = started + offset - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            at = time.time()
            with sent.lock:
                if not sent.first_sent or at < sent.first_sent:
                    sent.first_sent = at
            try:
                status, body = submit(url, path, student, notebook)
            except (OSError, http.client.HTTPException) as exc:
                status, body = 0, {"error": type(exc).__name__}
            with sent.lock:
                sent.last_sent = max(sent.last_sent, time.time())
                if status == 202 and isinstance(body, dict):
                    sent.expected[int(body["id"])] = score
                else:
                    key = str(status or (body or {}).get("error"))
                    sent.refused[key] = sent.refused.get(key, 0) + 1

    threads = [
        threading.Thread(target=student_thread, args=(items,), daemon=True)
        for items in by_student.values()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def drain(sent: Sent, *, timeout_s: float) -> dict[str, Any]:
    """Wait until every accepted submission is finished (or `timeout_s` passed without
    progress), then count: lost, graded more than once, scored wrongly; and the times."""
    from courses.models import GradeRecord, Submission, SubmissionStatus

    ids = list(sent.expected)
    terminal = [SubmissionStatus.GRADED, SubmissionStatus.FAILED, SubmissionStatus.ERROR]
    last_progress, left = time.monotonic(), len(ids)
    while left and time.monotonic() - last_progress < timeout_s:
        time.sleep(0.25)
        now_left = Submission.objects.filter(pk__in=ids).exclude(status__in=terminal).count()
        if now_left < left:
            last_progress = time.monotonic()
        left = now_left
    rows = {
        row["pk"]: row
        for row in Submission.objects.filter(pk__in=ids).values(
            "pk", "status", "score", "created_at", "finished_at"
        )
    }
    grades: dict[int, int] = {}
    for submission_id in GradeRecord.objects.filter(submission_id__in=ids).values_list(
        "submission_id", flat=True
    ):
        grades[submission_id] = grades.get(submission_id, 0) + 1
    finished = [r for r in rows.values() if r["status"] in terminal and r["finished_at"]]
    lost = len(ids) - len(finished)
    wrong = sum(
        1
        for r in finished
        if r["status"] != SubmissionStatus.GRADED or r["score"] != sent.expected[r["pk"]]
    )
    last: datetime | None = max((r["finished_at"] for r in finished), default=None)
    latency = [(r["finished_at"] - r["created_at"]).total_seconds() for r in finished]
    drain_s = (last.timestamp() - sent.first_sent) if last else float("nan")
    return {
        "sent": len(ids) + sum(sent.refused.values()),
        "accepted": len(ids),
        "refused": dict(sent.refused),
        "sent_within_s": round(sent.last_sent - sent.first_sent, 1),
        "drain_s": round(drain_s, 1),
        "graded_per_s": round(len(finished) / drain_s, 2) if last else 0.0,
        "lost": lost,
        "duplicated": sum(1 for n in grades.values() if n > 1),
        "wrong_score": wrong,
        "submit_to_graded_s_p50": round(percentile(latency, 50), 1) if latency else None,
        "submit_to_graded_s_p95": round(percentile(latency, 95), 1) if latency else None,
    }

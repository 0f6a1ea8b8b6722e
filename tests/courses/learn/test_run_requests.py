"""Requests to run cells, answered before any kernel is involved: refused without cells
or over the daily CPU quota, which is read every time (the cohort once)."""

import json

import nbformat
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from courses.cohorts.quotas import QuotaKind, quota_record
from courses.grading import services as grading_services
from courses.learn import sessions
from courses.models import CohortQuota

pytestmark = pytest.mark.django_db


def test_a_run_request_without_cells_is_refused(setup) -> None:
    _, _, base, client = setup
    response = client.post(base + "kernel/run", json.dumps({"cells": []}), "application/json")
    assert response.status_code == 400


def test_a_learner_over_the_daily_cpu_quota_cannot_run_cells_either(setup) -> None:
    # given a cohort allowing 5 CPU-seconds a day, all used
    enrollment, exercise, base, client = setup
    CohortQuota.objects.create(cohort=enrollment.cohort, cpu_seconds_per_day=5)
    quota_record(user=enrollment.user, cohort=enrollment.cohort, kind=QuotaKind.CPU_SECONDS,
                 amount=5)  # fmt: skip
    # when they run a cell
    body = json.dumps({"cells": [{"key": "a", "code": "while True: pass"}]})
    response = client.post(base + "kernel/run", body, "application/json")
    # then it is refused with the message submitting gives, and no run is sent
    assert response.status_code == 429
    assert "5 of your 5 sandbox CPU-seconds" in response.json()["error"]
    with pytest.raises(grading_services.SubmissionRefused) as refused:
        grading_services.submission_create(learner=enrollment.user, exercise=exercise,
                                           notebook=nbformat.v4.new_notebook())  # fmt: skip
    assert response.json()["error"] == str(refused.value)


def test_run_requests_read_todays_use_every_time_and_the_cohort_once(setup, monkeypatch) -> None:
    # given a cohort allowing 5 CPU-seconds a day, and a learner who ran a cell (none sent)
    enrollment, _exercise, base, client = setup
    CohortQuota.objects.create(cohort=enrollment.cohort, cpu_seconds_per_day=5)
    monkeypatch.setattr(sessions, "send", lambda *args, **kwargs: None)
    body = json.dumps({"cells": [{"key": "a", "code": "1"}]})
    assert client.post(base + "kernel/run", body, "application/json").status_code == 202
    # when they run another cell, neither their cohort nor its limit is read again
    with CaptureQueriesContext(connection) as queries:
        assert client.post(base + "kernel/run", body, "application/json").status_code == 202
    read = " ".join(query["sql"] for query in queries.captured_queries)
    assert "courses_enrollment" not in read and "courses_cohortquota" not in read
    # and once the day's CPU-seconds are used up, the next run is refused at once
    quota_record(user=enrollment.user, cohort=enrollment.cohort, kind=QuotaKind.CPU_SECONDS,
                 amount=5)  # fmt: skip
    assert client.post(base + "kernel/run", body, "application/json").status_code == 429


def test_a_run_request_in_a_burst_reads_only_the_session_and_the_user(
    setup, monkeypatch, django_assert_num_queries
) -> None:
    # given a learner who ran a cell (none sent), in a course pinning no environment
    _enrollment, _exercise, base, client = setup
    monkeypatch.setattr(sessions, "send", lambda *args, **kwargs: None)
    body = json.dumps({"cells": [{"key": "a", "code": "1"}]})
    assert client.post(base + "kernel/run", body, "application/json").status_code == 202
    # when they run another, then: the session and the user, nothing of the course
    with django_assert_num_queries(2):
        assert client.post(base + "kernel/run", body, "application/json").status_code == 202

"""The demo university, accounts and course that `make run` loads (idempotently)."""

from dataclasses import dataclass

from django.db import transaction

from campus.models import EmailDomain, Membership, Organization, Role, User
from courses.models import Cohort, Course, Enrollment, EnrollmentRole, Lesson, Module

DEMO_ORG_SLUG = "demo-university"
DEMO_COURSE_SLUG = "intro-scientific-python"

INTRO_LESSON = r"""
Welcome! In this course you write Python in notebooks that run in your browser, on the
platform's own sandboxed kernels.

## What you will learn

- how to load and explore a small scientific data set with **NumPy** and **pandas**;
- how to fit and evaluate a model with **scikit-learn**;
- how to call open AI models served by the platform.

The mean of $n$ values is

$$\bar{x} = \frac{1}{n}\sum_{i=1}^{n} x_i$$

```python
import numpy as np
values = np.array([1.0, 2.0, 3.5])
print(values.mean())
```
"""


@dataclass(frozen=True)
class DemoAccount:
    email: str
    name: str
    role: str
    superuser: bool = False


DEMO_ACCOUNTS = (
    DemoAccount("student@demo.edu", "Sam Student", Role.STUDENT),
    DemoAccount("instructor@demo.edu", "Ines Instructor", Role.INSTRUCTOR),
    DemoAccount("admin@demo.edu", "Ada Admin", Role.ORG_ADMIN, superuser=True),
)


@transaction.atomic
def seed_demo(*, password: str) -> Course:
    """Create or refresh the demo data. Safe to run any number of times."""
    org, _ = Organization.objects.update_or_create(
        slug=DEMO_ORG_SLUG, defaults={"name": "Demo University", "country": "FR"}
    )
    EmailDomain.objects.get_or_create(domain="demo.edu", defaults={"organization": org})
    users = {account.email: _demo_user(account, org, password) for account in DEMO_ACCOUNTS}

    course, _ = Course.objects.update_or_create(
        organization=org,
        slug=DEMO_COURSE_SLUG,
        defaults={
            "title": "Introduction to scientific Python",
            "summary": "Notebooks, NumPy, pandas and your first model, step by step.",
            "language": "en",
            "published": True,
        },
    )
    module, _ = Module.objects.update_or_create(
        course=course, position=1, defaults={"title": "Getting started"}
    )
    Lesson.objects.update_or_create(
        module=module,
        slug="welcome",
        defaults={"title": "Welcome to the course", "body": INTRO_LESSON.strip(), "position": 1},
    )
    cohort, _ = Cohort.objects.get_or_create(
        course=course, name="Demo cohort", defaults={"time_zone": "Europe/Paris"}
    )
    Enrollment.objects.update_or_create(
        user=users["student@demo.edu"], cohort=cohort, defaults={"role": EnrollmentRole.STUDENT}
    )
    Enrollment.objects.update_or_create(
        user=users["instructor@demo.edu"],
        cohort=cohort,
        defaults={"role": EnrollmentRole.INSTRUCTOR},
    )
    return course


def _demo_user(account: DemoAccount, org: Organization, password: str) -> User:
    from allauth.account.models import EmailAddress

    user, created = User.objects.get_or_create(email=account.email, defaults={"name": account.name})
    if created or not user.check_password(password):
        user.set_password(password)
    user.name = account.name
    user.is_staff = account.superuser
    user.is_superuser = account.superuser
    user.save()
    # Demo addresses count as verified: there is no inbox behind demo.edu.
    EmailAddress.objects.update_or_create(
        user=user, email=account.email, defaults={"verified": True, "primary": True}
    )
    Membership.objects.update_or_create(
        user=user, organization=org, defaults={"role": account.role}
    )
    return user

"""The demo university, its accounts and courses, that `make run` loads (idempotently):
"Introduction to scientific Python", built here, and the curriculum "Open AI models for
science", shipped as a course folder (curriculum/, the export_course format)."""

from dataclasses import dataclass
from pathlib import Path

import nbformat
from allauth.account.models import EmailAddress
from django.db import transaction

from campus.models import EmailDomain, Membership, Organization, Role, User
from courses.catalog.services import course_import
from courses.exercises.services import exercise_create
from courses.models import Cohort, Course, Enrollment, EnrollmentRole, Exercise, Lesson, Module

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


DEMO_EXERCISE_SLUG = "mean-and-plot"


def _nbgrader(grade_id: str, **flags: object) -> dict[str, object]:
    meta: dict[str, object] = {"grade_id": grade_id, "schema_version": 3, "solution": False,
                               "grade": False, "locked": False, "task": False}  # fmt: skip
    meta.update(flags)
    return {"nbgrader": meta}


def demo_exercise_notebook() -> dict[str, object]:
    """A short nbgrader exercise: a plot to look at, a function to write, a visible and a
    hidden test (one point each)."""
    v4 = nbformat.v4
    nb = v4.new_notebook(
        cells=[
            v4.new_markdown_cell(
                "# The mean, and a first plot\n\nThe mean of $n$ values is "
                "$\\bar{x} = \\frac{1}{n}\\sum_{i=1}^{n} x_i$. Run the next cell to see a plot.",
                metadata=_nbgrader("intro", locked=True),
            ),
            v4.new_code_cell(
                "import matplotlib.pyplot as plt\nimport numpy as np\n\n"
                "x = np.linspace(0, 2 * np.pi, 200)\nplt.plot(x, np.sin(x))\n"
                'plt.title("sin(x)")\nplt.show()'
            ),
            v4.new_markdown_cell(
                "Write `mean(values)`: the mean of a non-empty list of numbers.",
                metadata=_nbgrader("prompt", locked=True),
            ),
            v4.new_code_cell(
                "def mean(values):\n    ### BEGIN SOLUTION\n    return sum(values) / len(values)\n"
                "    ### END SOLUTION",
                metadata=_nbgrader("mean", solution=True),
            ),
            v4.new_code_cell(
                "assert mean([1, 2, 3]) == 2",
                metadata=_nbgrader("test_mean", grade=True, locked=True, points=1),
            ),
            v4.new_code_cell(
                "### BEGIN HIDDEN TESTS\nassert abs(mean([1, 2, 3, 4]) - 2.5) < 1e-9\n"
                "### END HIDDEN TESTS",
                metadata=_nbgrader("test_mean_hidden", grade=True, locked=True, points=1),
            ),
        ]
    )
    for position, cell in enumerate(nb.cells):
        cell.id = f"demo-{position}"  # stable ids: seeding again changes nothing
    return dict(nbformat.from_dict(nb))


def _demo_exercise(module: Module) -> Exercise:
    notebook = demo_exercise_notebook()
    exercise = Exercise.objects.filter(module=module, slug=DEMO_EXERCISE_SLUG).first()
    if exercise is None:
        return exercise_create(
            module=module, title="The mean, and a first plot", slug=DEMO_EXERCISE_SLUG,
            notebook=notebook, position=2,
        )  # fmt: skip
    if exercise.source != notebook:
        exercise.source = notebook
        exercise.save(update_fields=["source"])
    return exercise


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
    _demo_exercise(module)
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


# ------------------------------------------------------------------ the curriculum

COURSE_DIR = Path(__file__).resolve().parent / "curriculum" / "open-ai-models-for-science"
DEMO_COHORT = "Open models demo cohort"
DEMO_MEMBERS = (
    ("student@demo.edu", EnrollmentRole.STUDENT),
    ("instructor@demo.edu", EnrollmentRole.INSTRUCTOR),
)


@transaction.atomic
def load_demo_curriculum() -> Course:
    """Import the demo course into the demo university and enroll the demo accounts.

    Call after `seed_demo` (which creates the university and the accounts); safe to repeat.
    """
    organization = Organization.objects.get(slug=DEMO_ORG_SLUG)
    course = course_import(organization=organization, path=COURSE_DIR).course
    cohort, _ = Cohort.objects.get_or_create(
        course=course, name=DEMO_COHORT, defaults={"time_zone": "Europe/Paris"}
    )
    for email, role in DEMO_MEMBERS:
        user = User.objects.filter(email=email).first()
        if user is not None:
            Enrollment.objects.update_or_create(user=user, cohort=cohort, defaults={"role": role})
    return course

"""factory_boy factories for the project's models."""

from typing import Any

import factory
from allauth.account.models import EmailAddress

from campus.models import Membership, Organization, Role, User
from courses.models import Cohort, Course, Enrollment, EnrollmentRole, Exercise, Lesson, Module

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    name = factory.Faker("name")

    @factory.post_generation
    def password(obj: User, create: bool, extracted: str | None, **kwargs: Any) -> None:
        obj.set_password(extracted or PASSWORD)
        if create:
            obj.save(update_fields=["password"])
            EmailAddress.objects.create(user=obj, email=obj.email, verified=True, primary=True)


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"University {n}")
    slug = factory.Sequence(lambda n: f"university-{n}")
    country = "FR"


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.STUDENT


class CourseFactory(factory.django.DjangoModelFactory[Course]):
    class Meta:
        model = Course

    organization = factory.SubFactory(OrganizationFactory)
    slug = factory.Sequence(lambda n: f"course-{n}")
    title = factory.Sequence(lambda n: f"Course {n}")
    published = True


class ModuleFactory(factory.django.DjangoModelFactory[Module]):
    class Meta:
        model = Module

    course = factory.SubFactory(CourseFactory)
    title = factory.Sequence(lambda n: f"Module {n}")
    position = factory.Sequence(int)


class LessonFactory(factory.django.DjangoModelFactory[Lesson]):
    class Meta:
        model = Lesson

    module = factory.SubFactory(ModuleFactory)
    slug = factory.Sequence(lambda n: f"lesson-{n}")
    title = factory.Sequence(lambda n: f"Lesson {n}")
    body = "Some *Markdown*."
    position = factory.Sequence(int)


class ExerciseFactory(factory.django.DjangoModelFactory[Exercise]):
    class Meta:
        model = Exercise

    module = factory.SubFactory(ModuleFactory)
    slug = factory.Sequence(lambda n: f"exercise-{n}")
    title = factory.Sequence(lambda n: f"Exercise {n}")
    position = factory.Sequence(int)
    points = 10


class CohortFactory(factory.django.DjangoModelFactory[Cohort]):
    class Meta:
        model = Cohort

    course = factory.SubFactory(CourseFactory)
    name = factory.Sequence(lambda n: f"Cohort {n}")


class EnrollmentFactory(factory.django.DjangoModelFactory[Enrollment]):
    class Meta:
        model = Enrollment

    user = factory.SubFactory(UserFactory)
    cohort = factory.SubFactory(CohortFactory)
    role = EnrollmentRole.STUDENT

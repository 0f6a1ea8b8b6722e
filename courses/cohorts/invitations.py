"""The email that invites a person whose account an admin created to set their password."""

from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.template.loader import render_to_string
from django.urls import reverse

from campus.models import User
from courses.models import Cohort


def password_set_url(*, user: User) -> str:
    """allauth's password reset link for `user`: valid until they set a password, or
    PASSWORD_RESET_TIMEOUT (three days by default)."""
    path = reverse(
        "account_reset_password_from_key",
        kwargs={
            "uidb36": user_pk_to_url_str(user),
            "key": default_token_generator.make_token(user),
        },
    )
    return settings.SITE_URL.rstrip("/") + path


def send_invitations(*, users: list[User], cohort: Cohort, inviter: User) -> None:
    """One email per person, all over one connection to the mail server."""
    messages = [invitation_message(user=user, cohort=cohort, inviter=inviter) for user in users]
    with get_connection() as connection:
        connection.send_messages(messages)


def invitation_message(*, user: User, cohort: Cohort, inviter: User) -> EmailMessage:
    context = {
        "user": user,
        "cohort": cohort,
        "course": cohort.course,
        "inviter": inviter,
        "set_password_url": password_set_url(user=user),
        "login_url": settings.SITE_URL.rstrip("/") + reverse("account_login"),
        "reset_url": settings.SITE_URL.rstrip("/") + reverse("account_reset_password"),
    }
    subject = render_to_string("courses/cohorts/email/invitation_subject.txt", context).strip()
    body = render_to_string("courses/cohorts/email/invitation_body.txt", context)
    return EmailMessage(
        settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject,
        body,
        settings.DEFAULT_FROM_EMAIL,
        [user.email],
    )

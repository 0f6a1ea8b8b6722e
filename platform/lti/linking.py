"""Linking an LMS identity to an account the person already has here.

A first launch makes an account of its own for the LMS user (never found by email: the LMS's
email claim is not verified by us). Someone who already has an account here (signed up with
an email and password) may then link the LMS identity to it, by signing in to it once from
the launched session: that proves they hold both. Never automatic, never by email alone.

An account links to at most one user of each LMS (issuer): a second `sub` of the same LMS
cannot take over an account that another one already uses.
"""

from allauth.account.models import EmailAddress
from allauth.core import ratelimit
from allauth.mfa.adapter import get_adapter as mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from campus.models import Membership, User
from campus.services import audit_record
from courses.models import Draft, Enrollment, Submission
from lti.models import PlatformAccount
from lti.services import LMS_EMAIL_DOMAIN, via


class LinkError(Exception):
    """The link is refused; the message says why and is safe to show."""


def is_lms_only(user: User) -> bool:
    """An account a launch made: no address of its own, no password."""
    return user.email.endswith("@" + LMS_EMAIL_DOMAIN) and not user.has_usable_password()


def local_account_check(*, request: HttpRequest, email: str, password: str, code: str) -> User:
    """The account whose email and password (and second factor, if it has one) were given.

    Failures count against the same limit as the sign-in page's (allauth's "login_failed"
    for that address), so this form is no side door for guessing passwords.
    """
    key = email.strip().lower()
    if not ratelimit.consume(request, action="login_failed", key=key, dry_run=True):
        raise LinkError(
            _("Too many failed sign-ins for this address. Wait a few minutes, then try again.")
        )
    user = authenticate(request, email=key, password=password)
    if not isinstance(user, User) or not user.is_active:
        ratelimit.consume(request, action="login_failed", key=key)
        raise LinkError(_("The email address or the password is not right."))
    if settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory" and not (
        EmailAddress.objects.filter(user=user, verified=True).exists()
    ):
        raise LinkError(
            _("Confirm your email address first (follow the link we sent you), then link.")
        )
    if mfa_adapter().is_mfa_enabled(user):
        totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
        if totp is None or not code.strip() or not TOTP(totp).validate_code(code.strip()):
            ratelimit.consume(request, action="login_failed", key=key)
            raise LinkError(
                _(
                    "Your account uses two-step sign-in: give the current code of your "
                    "authenticator app too."
                )
            )
    return user


@transaction.atomic
def account_link(*, lms_user: User, local_user: User) -> list[PlatformAccount]:
    """Move the LMS identities of `lms_user` (an account a launch made) to `local_user`,
    with the courses and roles the launches gave; `lms_user` is then switched off.

    Contract: the caller has checked `local_user`'s credentials (local_account_check) and
    that `lms_user` is the person of the current launched session. Audited per LMS.
    """
    if local_user.pk == lms_user.pk or not is_lms_only(lms_user):
        raise LinkError(_("This LMS account is already linked to an account of yours."))
    accounts = list(
        PlatformAccount.objects.select_for_update()
        .filter(user=lms_user)
        .select_related("registration__organization")
    )
    if not accounts:
        raise LinkError(_("Open the link in your LMS again, then link your account."))
    taken = set(PlatformAccount.objects.filter(user=local_user).values_list("issuer", flat=True))
    if any(account.issuer in taken for account in accounts):
        raise LinkError(
            _(
                "That account is already linked to another user of this LMS. An account links "
                "to one LMS user only."
            )
        )
    if Submission.objects.filter(learner=lms_user).exists():
        raise LinkError(
            _(
                "Work was already handed in from this LMS account, so it cannot be linked "
                "here. Ask your university's administrator to merge the accounts."
            )
        )
    _move_belongings(lms_user=lms_user, local_user=local_user)
    PlatformAccount.objects.filter(pk__in=[a.pk for a in accounts]).update(user=local_user)
    lms_user.is_active = False
    lms_user.save(update_fields=["is_active"])
    for account in accounts:
        audit_record(
            organization=account.registration.organization,
            actor=local_user,
            action="lti_account_linked",
            target_type="user",
            target_id=local_user.pk,
            target_label=local_user.email,
            target_user=local_user,
            details={
                "via": via(account.registration),
                "issuer": account.issuer,
                "sub": account.sub,
                "lms_account": lms_user.pk,
            },
        )
    return accounts


def _move_belongings(*, lms_user: User, local_user: User) -> None:
    """Enrollments, memberships and drafts the launches made; where the account already has
    its own (same cohort, university or exercise), that one is kept."""
    for model, field, mine in (
        (Enrollment, "cohort_id", Enrollment.objects.filter(user=local_user)),
        (Membership, "organization_id", Membership.objects.filter(user=local_user)),
    ):
        kept = list(mine.values_list(field, flat=True))
        model.objects.filter(user=lms_user).exclude(**{f"{field}__in": kept}).update(
            user=local_user
        )
        model.objects.filter(user=lms_user).delete()
    drafts = list(Draft.objects.filter(learner=local_user).values_list("exercise_id", flat=True))
    Draft.objects.filter(learner=lms_user).exclude(exercise_id__in=drafts).update(
        learner=local_user
    )
    Draft.objects.filter(learner=lms_user).delete()

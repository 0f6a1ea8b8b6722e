"""Reads for the university admin pages: a fixed number of queries whatever the size."""

from collections.abc import Collection

from allauth.account.models import EmailAddress
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Lower

from campus.models import AuditLog, Membership, Organization, User


def users_by_verified_email(*, emails: Collection[str]) -> dict[str, User]:
    """The account each address names, keyed by the lower-cased address.

    The one rule for finding a person by email, everywhere: only a VERIFIED address names an
    account. Anyone may type someone else's address into their profile or sign up with it;
    only the person who reads that inbox can confirm it.
    """
    lowered = {e.strip().lower() for e in emails}
    found = (
        EmailAddress.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=lowered, verified=True)
        .select_related("user")
    )
    return {address.email_lower: address.user for address in found}


def pending_users_by_email(*, emails: Collection[str]) -> dict[str, User]:
    """Accounts whose login is one of `emails` and that have no verified address at all: an
    invitation not yet followed, or a sign-up never confirmed. Nobody has proved they own such
    an account, so whoever reads the inbox may claim it (see `pending_account_reclaim`)."""
    lowered = {e.strip().lower() for e in emails}
    verified = EmailAddress.objects.filter(user=OuterRef("pk"), verified=True)
    found = (
        User.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=lowered)
        .exclude(Exists(verified))
    )
    return {user.email_lower: user for user in found}


def unverified_claimants(*, email: str) -> QuerySet[User]:
    """Accounts that hold `email` without having confirmed it and without it being their
    login: unproven claims on another person's address."""
    return User.objects.filter(
        emailaddress__email__iexact=email.strip(), emailaddress__verified=False
    ).exclude(email__iexact=email.strip())


def organization_members(*, organization: Organization, search: str = "") -> QuerySet[Membership]:
    """Members of `organization`, by name then email, filtered by `search` on either."""
    members = Membership.objects.filter(organization=organization).select_related("user")
    search = search.strip()
    if search:
        members = members.filter(Q(user__email__icontains=search) | Q(user__name__icontains=search))
    return members.order_by("user__name", "user__email")


def organization_audit_log(
    *, organization: Organization, search: str = "", action: str = ""
) -> QuerySet[AuditLog]:
    """The university's audit log, newest first, with the people it names; `search` matches
    who acted or who or what was acted on, `action` keeps one kind of entry."""
    entries = AuditLog.objects.filter(organization=organization).select_related(
        "actor", "target_user"
    )
    search = search.strip()
    if search:
        entries = entries.filter(
            Q(actor__email__icontains=search)
            | Q(actor__name__icontains=search)
            | Q(target_label__icontains=search)
            | Q(target_user__name__icontains=search)
        )
    if action:
        entries = entries.filter(action=action)
    return entries

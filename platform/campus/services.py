"""Writes on universities and memberships. Every change of a role is recorded in the audit log.

Callers: the campus views, the allauth signal handlers, and courses' services (which record
enrollment changes here through `audit_record`).
"""

from typing import Any

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils.translation import gettext as _

from campus.models import AuditAction, AuditLog, EmailDomain, Membership, Organization, Role, User


class RoleChangeError(Exception):
    """A role change that is refused; the message is safe to show to the admin."""


def audit_record(
    *,
    organization: Organization,
    actor: User | None,
    action: str,
    target_type: str,
    target_id: int | None,
    target_label: str,
    target_user: User | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """Add one audit entry. Call it inside the transaction that makes the change, so the
    entry exists if and only if the change does."""
    return AuditLog.objects.create(
        organization=organization,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label[:300],
        target_user=target_user,
        details=details or {},
    )


def _audit_membership(
    *, membership: Membership, actor: User | None, action: str, details: dict[str, Any]
) -> None:
    audit_record(
        organization=membership.organization,
        actor=actor,
        action=action,
        target_type="membership",
        target_id=membership.pk,
        target_label=membership.user.email,
        target_user=membership.user,
        details=details,
    )


@transaction.atomic
def membership_set_role(*, actor: User, membership: Membership, role: str) -> Membership:
    """Give `membership` the role `role`, recording the change.

    Refuses (RoleChangeError) an unknown role and removing the university's last admin, which
    would leave nobody able to manage it. Locks the university's admin rows while checking.
    """
    if role not in Role.values:
        raise RoleChangeError(_("“%(role)s” is not a role.") % {"role": role})
    old_role = membership.role
    if old_role == role:
        return membership
    if old_role == Role.ORG_ADMIN:
        admins = list(
            Membership.objects.select_for_update()
            .filter(organization_id=membership.organization_id, role=Role.ORG_ADMIN)
            .values_list("pk", flat=True)
        )
        if admins == [membership.pk]:
            raise RoleChangeError(
                _(
                    "%(email)s is the university's only admin. Make someone else an admin "
                    "first, then change this role."
                )
                % {"email": membership.user.email}
            )
    membership.role = role
    membership.save(update_fields=["role"])
    _audit_membership(
        membership=membership,
        actor=actor,
        action=AuditAction.ROLE_CHANGED,
        details={"from": old_role, "to": role},
    )
    return membership


def membership_ensure(
    *, actor: User | None, user: User, organization: Organization, role: str, via: str
) -> Membership:
    """The user's membership of `organization`, created with `role` when they have none.

    An existing membership keeps its role: enrolling someone in a course never changes what
    they may do in the university.
    """
    membership, created = Membership.objects.select_related("user", "organization").get_or_create(
        user=user, organization=organization, defaults={"role": role}
    )
    if created:
        _audit_membership(
            membership=membership,
            actor=actor,
            action=AuditAction.MEMBER_JOINED,
            details={"role": role, "via": via},
        )
    return membership


def organization_for_email(*, email: str) -> EmailDomain | None:
    """The university owning the email's domain or its closest parent domain
    (`student.univ.example` belongs to the owner of `univ.example`)."""
    domain = email.rpartition("@")[2].strip().lower()
    labels = domain.split(".")
    candidates = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    if not candidates:
        return None
    found = {
        d.domain: d
        for d in EmailDomain.objects.filter(domain__in=candidates).select_related("organization")
    }
    return next((found[c] for c in candidates if c in found), None)


@transaction.atomic
def membership_join_by_email_domain(*, user: User, email: str) -> Membership | None:
    """Make `user` a student of the university that owns the domain of their verified
    `email`. Returns the new membership, or None (no such university, or already a member).
    """
    email_domain = organization_for_email(email=email)
    if email_domain is None:
        return None
    organization = email_domain.organization
    if Membership.objects.filter(user=user, organization=organization).exists():
        return None
    return membership_ensure(
        actor=user,
        user=user,
        organization=organization,
        role=Role.STUDENT,
        via=f"email_domain:{email_domain.domain}",
    )


def email_verify_after_password_set(*, user: User) -> EmailAddress | None:
    """Mark the only address of `user` verified once they set a password from a reset link.

    The link was mailed to that address, so following it proves the person reads it; this is
    how people invited by a CSV import get in with one email instead of two. Accounts with
    several addresses are left alone: we cannot tell which one received the link.
    """
    addresses = list(EmailAddress.objects.filter(user=user)[:2])
    if len(addresses) != 1 or addresses[0].verified:
        return None
    address = addresses[0]
    address.verified = True
    address.primary = True
    address.save(update_fields=["verified", "primary"])
    membership_join_by_email_domain(user=user, email=address.email)
    return address


def email_unverified_claims_remove(*, email: str) -> int:
    """Remove the unproven claims other accounts hold on `email` (an address they added but
    never confirmed), before an account is made for it on its owner's behalf. Returns how
    many were removed."""
    removed, _details = (
        EmailAddress.objects.filter(email__iexact=email.strip(), verified=False)
        .exclude(user__email__iexact=email.strip())
        .delete()
    )
    return removed


@transaction.atomic
def pending_account_reclaim(*, user: User) -> User:
    """Hand an account nobody has proved they own (no verified address) to the person who
    reads its login address: its password stops working (which also ends its sessions) and
    every other address it holds is removed, so only the invitation mailed to that address
    opens it.

    Callers: enrollment on someone's behalf, for an account `pending_users_by_email` found.
    """
    if EmailAddress.objects.filter(user=user, verified=True).exists():
        raise ValueError("an account with a verified address is not pending")
    user.set_unusable_password()
    user.save(update_fields=["password"])
    EmailAddress.objects.filter(user=user).exclude(email__iexact=user.email).delete()
    login = EmailAddress.objects.filter(user=user, email__iexact=user.email)
    if not login.update(primary=True, verified=False):
        EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
    return user

"""allauth signal handlers: thin, they call one service each."""

from typing import Any

from allauth.account.models import EmailAddress
from allauth.account.signals import email_confirmed, password_reset, user_logged_in
from django.dispatch import receiver

from campus.models import User
from campus.services import email_verify_after_password_set, membership_join_by_email_domain
from campus.sso.logout import sso_logout_remember
from campus.sso.providers import SSO_LOGOUT_STATE_KEY


@receiver(email_confirmed, dispatch_uid="campus.join_by_email_domain")
def join_by_email_domain(sender: Any, email_address: EmailAddress, **kwargs: Any) -> None:
    membership_join_by_email_domain(user=email_address.user, email=email_address.email)


@receiver(password_reset, dispatch_uid="campus.verify_after_password_set")
def verify_after_password_set(sender: Any, user: User, **kwargs: Any) -> None:
    email_verify_after_password_set(user=user)


@receiver(user_logged_in, dispatch_uid="campus.sso_logout_remember")
def remember_sso_logout(sender: Any, request: Any, sociallogin: Any = None, **kwargs: Any) -> None:
    if sociallogin is not None:
        sso_logout_remember(
            session=request.session, record=sociallogin.state.get(SSO_LOGOUT_STATE_KEY)
        )

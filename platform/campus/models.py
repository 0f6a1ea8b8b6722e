"""Universities, the people in them and their roles."""

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: Any) -> "User":
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractUser):
    """A person. The email address is the login; there is no username."""

    username = None  # type: ignore[assignment]
    email = models.EmailField(_("email address"), unique=True)
    name = models.CharField(_("full name"), max_length=200, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name.split(" ")[0] if self.name else self.email


class Organization(models.Model):
    """A partner university."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), unique=True)
    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166 code, e.g. FR"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("university")
        verbose_name_plural = _("universities")

    def __str__(self) -> str:
        return self.name


class EmailDomain(models.Model):
    """An email domain owned by a university: people who sign up with it may join it."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="email_domains"
    )
    domain = models.CharField(_("domain"), max_length=253, unique=True)

    class Meta:
        ordering = ["domain"]
        verbose_name = _("email domain")
        verbose_name_plural = _("email domains")

    def __str__(self) -> str:
        return self.domain

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.domain = self.domain.strip().lower().lstrip("@")
        super().save(*args, **kwargs)


class Role(models.TextChoices):
    ORG_ADMIN = "org_admin", _("University admin")
    INSTRUCTOR = "instructor", _("Instructor")
    TA = "ta", _("Teaching assistant")
    STUDENT = "student", _("Student")


class Membership(models.Model):
    """A person's role in a university."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.STUDENT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="one_membership_per_org")
        ]
        ordering = ["organization", "user"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} · {self.organization} · {self.get_role_display()}"


class AuditAction(models.TextChoices):
    MEMBER_JOINED = "member_joined", _("Joined the university")
    ROLE_CHANGED = "role_changed", _("Role changed")
    USER_INVITED = "user_invited", _("Account created and invited")
    ENROLLMENT_CREATED = "enrollment_created", _("Enrolled in a cohort")
    ENROLLMENT_ROLE_CHANGED = "enrollment_role_changed", _("Cohort role changed")
    ENROLLMENT_REMOVED = "enrollment_removed", _("Removed from a cohort")
    COHORT_CREATED = "cohort_created", _("Cohort created")
    COHORT_CHANGED = "cohort_changed", _("Cohort changed")
    COHORT_CODE_REGENERATED = "cohort_code_regenerated", _("Enrollment code regenerated")
    SSO_ACCOUNT_CREATED = "sso_account_created", _("Account created at university sign-in")
    SSO_ACCOUNT_LINKED = "sso_account_linked", _("Account linked to university sign-in")
    IDP_ADDED = "idp_added", _("Identity provider added")
    IDP_CHANGED = "idp_changed", _("Identity provider changed")
    IDP_REMOVED = "idp_removed", _("Identity provider removed")


class AuditLog(models.Model):
    """Who did what to whom, and when. Rows are only ever added.

    The target is kept as a type, an id and a label frozen at the time, so the entry still
    reads correctly after the target is renamed or deleted.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="audit_log"
    )
    actor = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty when the platform acted on its own."),
    )
    action = models.CharField(_("action"), max_length=40, choices=AuditAction.choices)
    target_user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    target_type = models.CharField(_("target type"), max_length=40)
    target_id = models.PositiveBigIntegerField(_("target id"), null=True, blank=True)
    target_label = models.CharField(_("target"), max_length=300)
    details = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"])]
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} · {self.actor} · {self.action}"

    def details_display(self) -> str:
        """The details in words, for people: role codes become role names."""
        roles = dict(Role.choices)
        parts = []
        if "from" in self.details and "to" in self.details:
            parts.append(
                f"{roles.get(self.details['from'], self.details['from'])} → "
                f"{roles.get(self.details['to'], self.details['to'])}"
            )
        elif "role" in self.details:
            parts.append(str(roles.get(self.details["role"], self.details["role"])))
        if "cohort" in self.details:
            parts.append(str(self.details["cohort"]))
        via = str(self.details.get("via", ""))
        if via:
            parts.append(_via_display(via))
        return " · ".join(parts)


def _via_display(via: str) -> str:
    kind, _sep, value = via.partition(":")
    labels = {
        "csv": _("CSV import"),
        "invite_link": _("invite link"),
        "email_domain": _("email domain %(domain)s"),
        "admin": _("by an admin"),
        "sso": _("university sign-in %(domain)s"),
    }
    label = labels.get(kind)
    if label is None:
        return via
    return str(label) % {"domain": value}


class IdentityProvider(models.Model):
    """A university's own sign-in: a SAML 2.0 identity provider or an OpenID Connect
    provider. allauth's SocialApp (`app`) holds the protocol settings; this row says which
    university it speaks for and what its assertions may do (see campus/sso/)."""

    class Protocol(models.TextChoices):
        SAML = "saml", _("SAML 2.0")
        OIDC = "oidc", _("OpenID Connect")

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="identity_providers"
    )
    protocol = models.CharField(_("protocol"), max_length=4, choices=Protocol.choices)
    app = models.OneToOneField(
        "socialaccount.SocialApp", on_delete=models.CASCADE, related_name="identity_provider"
    )
    sso_only = models.BooleanField(
        _("university sign-in only"),
        default=False,
        help_text=_("People with an address in the university's domains cannot use a password."),
    )
    default_role = models.CharField(
        _("role of new members"), max_length=20, choices=Role.choices, default=Role.STUDENT
    )
    role_map = models.JSONField(
        _("roles by affiliation"),
        default=dict,
        blank=True,
        help_text=_("eduPersonAffiliation value → role, e.g. faculty → instructor."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "protocol"], name="one_idp_per_protocol_per_org"
            )
        ]
        ordering = ["organization", "protocol"]
        verbose_name = _("identity provider")
        verbose_name_plural = _("identity providers")

    def __str__(self) -> str:
        return f"{self.organization} · {self.get_protocol_display()}"


class SamlMessageUse(models.Model):
    """A SAML Response or Assertion ID already accepted, kept until it expires: the same
    signed Response posted again is a replay and is refused."""

    key = models.CharField(max_length=300, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.key

"""The LTI 1.3 tool's records: the platforms (LMSs) registered by universities, our signing
keys, and how the platform's users, contexts and links map onto ours."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from campus.models import Organization
from courses.models import Cohort, Exercise, Lesson, Submission


class Registration(models.Model):
    """One platform client: an issuer and a client id, registered by a university.

    Canvas uses one issuer for every school, with one client id per developer key: the pair,
    not the issuer alone, identifies the registration.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="lti_registrations"
    )
    name = models.CharField(_("name"), max_length=200)
    issuer = models.URLField(_("issuer"), max_length=500)
    client_id = models.CharField(_("client id"), max_length=300)
    auth_login_url = models.URLField(_("authorization endpoint"), max_length=500)
    auth_token_url = models.URLField(_("token endpoint"), max_length=500)
    keyset_url = models.URLField(_("platform JWKS URL"), max_length=500)
    token_audience = models.CharField(_("token audience"), max_length=500, blank=True)
    registration_endpoint = models.URLField(_("registration endpoint"), max_length=500, blank=True)
    product = models.CharField(_("LMS product"), max_length=100, blank=True)
    scopes = models.JSONField(_("granted scopes"), default=list, blank=True)
    active = models.BooleanField(_("active"), default=True)
    deployments_open = models.BooleanField(
        _("accept new deployments"),
        default=False,
        help_text=_(
            "Launches from a deployment not listed here are refused unless this is on (the "
            "platform did not name its deployment when it registered)."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "client_id"], name="lti_one_client_per_issuer"
            )
        ]
        ordering = ["organization", "name"]
        verbose_name = _("LTI registration")
        verbose_name_plural = _("LTI registrations")

    def __str__(self) -> str:
        return f"{self.name} ({self.issuer}, {self.client_id})"


class Deployment(models.Model):
    """A deployment of the tool in the platform (a whole LMS, a sub-account, one course)."""

    registration = models.ForeignKey(
        Registration, on_delete=models.CASCADE, related_name="deployments"
    )
    deployment_id = models.CharField(_("deployment id"), max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "deployment_id"], name="lti_one_deployment_id"
            )
        ]
        verbose_name = _("LTI deployment")
        verbose_name_plural = _("LTI deployments")

    def __str__(self) -> str:
        return f"{self.registration.name} · {self.deployment_id}"


class ToolKey(models.Model):
    """One of our RSA signing keys. The newest active key signs; older keys stay published in
    the JWKS until `retire_at`, so tokens signed before a rotation still verify."""

    kid = models.CharField(max_length=64, unique=True)
    private_key_pem = models.TextField()
    public_jwk = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    retire_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("tool key")
        verbose_name_plural = _("tool keys")

    def __str__(self) -> str:
        return self.kid


class LaunchState(models.Model):
    """The state and nonce of one OIDC login, used at most once by the launch that ends it."""

    state = models.CharField(max_length=64, unique=True)
    nonce = models.CharField(max_length=64, unique=True)
    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="+")
    target_link_uri = models.URLField(max_length=1000)
    # The LMS's frame that keeps the state and nonce (LTI Platform Storage), when the login
    # named one (`lti_storage_target`); empty when only our cookie keeps them.
    storage_target = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.registration_id} · {self.created_at:%Y-%m-%d %H:%M}"


class PlatformAccount(models.Model):
    """Our account for a platform's user: (registration's issuer, sub) → user. Never looked up
    by email: an LMS's email claim is not verified by us."""

    issuer = models.URLField(max_length=500)
    sub = models.CharField(max_length=255)
    registration = models.ForeignKey(
        Registration, on_delete=models.CASCADE, related_name="accounts"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lti_accounts"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "sub"], name="lti_one_account_per_sub")
        ]
        verbose_name = _("LMS account")
        verbose_name_plural = _("LMS accounts")

    def __str__(self) -> str:
        return f"{self.issuer} · {self.sub}"


class Context(models.Model):
    """An LMS course (an LTI context) in one deployment, and the service URLs it gave us."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="contexts")
    context_id = models.CharField(max_length=255)
    title = models.CharField(max_length=300, blank=True)
    lineitems_url = models.URLField(max_length=1000, blank=True)
    memberships_url = models.URLField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["deployment", "context_id"], name="lti_one_context")
        ]
        verbose_name = _("LMS course")
        verbose_name_plural = _("LMS courses")

    def __str__(self) -> str:
        return self.title or self.context_id


class ContextCohort(models.Model):
    """The cohort, in one of our courses, that holds an LMS course's people. An LMS course that
    links exercises of two of our courses has one cohort in each."""

    context = models.ForeignKey(Context, on_delete=models.CASCADE, related_name="cohorts")
    cohort = models.OneToOneField(Cohort, on_delete=models.CASCADE, related_name="lti_context")
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("LMS course cohort")
        verbose_name_plural = _("LMS course cohorts")

    def __str__(self) -> str:
        return f"{self.context} → {self.cohort}"


class ResourceLink(models.Model):
    """A link placed in the LMS course, what it opens here, and its gradebook column."""

    context = models.ForeignKey(Context, on_delete=models.CASCADE, related_name="links")
    resource_link_id = models.CharField(max_length=255)
    title = models.CharField(max_length=300, blank=True)
    exercise = models.ForeignKey(
        Exercise, on_delete=models.CASCADE, null=True, blank=True, related_name="lti_links"
    )
    lesson = models.ForeignKey(
        Lesson, on_delete=models.CASCADE, null=True, blank=True, related_name="lti_links"
    )
    lineitem_url = models.URLField(max_length=1000, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["context", "resource_link_id"], name="lti_one_resource_link"
            )
        ]
        verbose_name = _("LMS link")
        verbose_name_plural = _("LMS links")

    def __str__(self) -> str:
        return self.title or self.resource_link_id


class ScoreStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("Sent")
    RETRYING = "retrying", _("Retrying")
    FAILED = "failed", _("Failed")


class ScorePost(models.Model):
    """The score of one learner on one LMS gradebook column: what we last decided to send,
    and whether the LMS has it. One row per (link, learner); a regrade updates it."""

    link = models.ForeignKey(ResourceLink, on_delete=models.CASCADE, related_name="scores")
    account = models.ForeignKey(PlatformAccount, on_delete=models.CASCADE, related_name="scores")
    submission = models.ForeignKey(
        Submission, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    score = models.DecimalField(max_digits=7, decimal_places=2)
    max_score = models.DecimalField(max_digits=7, decimal_places=2)
    timestamp = models.DateTimeField(help_text=_("When the score was decided; sent to the LMS."))
    pending_manual = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=ScoreStatus.choices, default=ScoreStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["link", "account"], name="lti_one_score_per_learner")
        ]
        indexes = [models.Index(fields=["status", "updated_at"])]
        verbose_name = _("LMS score")
        verbose_name_plural = _("LMS scores")

    def __str__(self) -> str:
        return f"{self.link} · {self.account.sub} · {self.score}/{self.max_score}"

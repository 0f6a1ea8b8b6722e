"""The open-model catalog, which courses may use which model, personal tokens and usage."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ModelKind(models.TextChoices):
    EMBEDDING = "embedding", _("Embeddings")
    CHAT = "chat", _("Chat")


class BackendKind(models.TextChoices):
    SENTENCE_TRANSFORMERS = "sentence_transformers", _("sentence-transformers (local directory)")
    HF_CAUSAL = "hf_causal", _("Hugging Face causal language model (local directory)")
    LLAMA_CPP = "llama_cpp", _("llama.cpp engine run by the gateway (GGUF file)")
    UPSTREAM = "upstream", _("OpenAI-compatible upstream server")


class Openness(models.TextChoices):
    OPEN_SOURCE = "open_source", _("Open source: weights, training data and code")
    OPEN_WEIGHTS = "open_weights", _("Open weights only")
    PARTLY_OPEN = "partly_open", _("Partly open")
    CLOSED = "closed", _("Closed")


class ModelCard(models.Model):
    """A model the gateway serves, with what a learner should know about how open it is."""

    name = models.CharField(
        _("API name"), max_length=200, unique=True, help_text=_("The `model` value clients send.")
    )
    display_name = models.CharField(_("display name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=ModelKind.choices)
    backend = models.CharField(_("backend"), max_length=30, choices=BackendKind.choices)
    location = models.CharField(
        _("location"),
        max_length=500,
        blank=True,
        help_text=_(
            "A local model directory or GGUF file, or the upstream's model name. Empty: the "
            "embedded all-MiniLM-L6-v2 (sentence-transformers), SmolLM2-135M-Instruct "
            "(llama.cpp) or the API name (upstream)."
        ),
    )
    description = models.TextField(_("description"), blank=True)
    license = models.CharField(_("license"), max_length=100, help_text=_("e.g. Apache-2.0"))
    license_url = models.URLField(_("license URL"), blank=True)
    weights_open = models.BooleanField(_("weights are open"), default=False)
    training_data_open = models.BooleanField(_("training data is open"), default=False)
    training_code_open = models.BooleanField(_("training code is open"), default=False)
    model_sha256 = models.CharField(
        _("model file sha256"),
        max_length=64,
        blank=True,
        help_text=_("Pinned for reproducible outputs: a different file is refused (llama.cpp)."),
    )
    engine_version = models.CharField(
        _("engine version"),
        max_length=100,
        blank=True,
        help_text=_("Pinned for reproducible outputs, e.g. 'xllamacpp 2026.10.11549'."),
    )
    active = models.BooleanField(_("served"), default=True)
    all_courses = models.BooleanField(
        _("enabled in every course"),
        default=False,
        help_text=_("Otherwise only in the courses listed below."),
    )
    courses = models.ManyToManyField(
        "courses.Course",
        blank=True,
        related_name="open_models",
        verbose_name=_("courses"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("model")
        verbose_name_plural = _("models")

    def __str__(self) -> str:
        return self.name

    @property
    def openness(self) -> str:
        flags = (self.weights_open, self.training_data_open, self.training_code_open)
        if all(flags):
            return Openness.OPEN_SOURCE
        if self.weights_open and not any(flags[1:]):
            return Openness.OPEN_WEIGHTS
        return Openness.PARTLY_OPEN if any(flags) else Openness.CLOSED

    def get_openness_display(self) -> str:
        return str(Openness(self.openness).label)


class ApiToken(models.Model):
    """A personal API token. Only a digest is stored: the token is shown once, at creation."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Usage(models.Model):
    """Requests and tokens per learner, course (none for personal tokens), model and day."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="model_usage"
    )
    course = models.ForeignKey(
        "courses.Course", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    model = models.ForeignKey(ModelCard, on_delete=models.CASCADE, related_name="usage")
    day = models.DateField(_("day"))
    requests = models.PositiveIntegerField(_("requests"), default=0)
    prompt_tokens = models.PositiveBigIntegerField(_("prompt tokens"), default=0)
    completion_tokens = models.PositiveBigIntegerField(_("completion tokens"), default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "course", "model", "day"],
                condition=models.Q(course__isnull=False),
                name="usage_per_course_day",
            ),
            models.UniqueConstraint(
                fields=["user", "model", "day"],
                condition=models.Q(course__isnull=True),
                name="usage_without_course_day",
            ),
        ]
        ordering = ["-day", "user"]
        verbose_name = _("usage")
        verbose_name_plural = _("usage")

    def __str__(self) -> str:
        return f"{self.user_id} · {self.model_id} · {self.day}"

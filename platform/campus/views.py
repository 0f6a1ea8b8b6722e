"""University admin pages: members and their roles, the audit log. Thin: each view checks
access with `access_*`, then calls one selector or service."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campus.access import access_organization_admin, administered_organizations
from campus.forms import AuditSearchForm, MemberSearchForm, RoleForm
from campus.models import Membership, Role, User
from campus.selectors import organization_audit_log, organization_members
from campus.services import RoleChangeError, membership_set_role

MEMBERS_PER_PAGE = 50
AUDIT_PER_PAGE = 50
RECENT_AUDIT = 10


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@login_required
def universities_view(request: HttpRequest) -> HttpResponse:
    organizations = administered_organizations(user=_user(request))
    if not organizations:
        raise PermissionDenied(_("You do not administer any university."))
    return render(request, "campus/universities.html", {"organizations": organizations})


@login_required
def members_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = access_organization_admin(user=_user(request), slug=org_slug)
    search = MemberSearchForm(request.GET)
    query = search.cleaned_data["q"] if search.is_valid() else ""
    page = Paginator(
        organization_members(organization=organization, search=query), MEMBERS_PER_PAGE
    ).get_page(request.GET.get("page"))
    recent = list(organization_audit_log(organization=organization)[:RECENT_AUDIT])
    return render(
        request,
        "campus/members.html",
        {
            "organization": organization,
            "search": search,
            "query": query,
            "page": page,
            "roles": Role.choices,
            "recent": recent,
        },
    )


@login_required
@require_POST
def member_role_view(request: HttpRequest, org_slug: str, membership_id: int) -> HttpResponse:
    organization = access_organization_admin(user=_user(request), slug=org_slug)
    membership = (
        Membership.objects.filter(organization=organization, pk=membership_id)
        .select_related("user", "organization")
        .first()
    )
    if membership is None:
        raise Http404("No such member")
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the listed roles."))
    else:
        try:
            membership_set_role(
                actor=_user(request), membership=membership, role=form.cleaned_data["role"]
            )
        except RoleChangeError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                _("%(email)s is now: %(role)s.")
                % {"email": membership.user.email, "role": membership.get_role_display()},
            )
    return redirect(_back_to_members(request, org_slug))


def _back_to_members(request: HttpRequest, org_slug: str) -> str:
    """Return to the same search and page the admin was on."""
    fallback = reverse("campus:members", args=[org_slug])
    target = request.POST.get("next", "")
    if target.startswith(fallback) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        return target
    return fallback


@login_required
def audit_log_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = access_organization_admin(user=_user(request), slug=org_slug)
    search = AuditSearchForm(request.GET)
    filters = search.cleaned_data if search.is_valid() else {"q": "", "action": ""}
    entries = organization_audit_log(
        organization=organization, search=filters["q"], action=filters["action"]
    )
    page = Paginator(entries, AUDIT_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "campus/audit_log.html",
        {
            "organization": organization,
            "page": page,
            "search": search,
            "query": filters["q"],
            "action": filters["action"],
        },
    )

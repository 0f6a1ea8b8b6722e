"""LTI 1.3 claim names and role vocabularies: pure, no Django."""

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = LTI + "message_type"
VERSION = LTI + "version"
DEPLOYMENT_ID = LTI + "deployment_id"
TARGET_LINK_URI = LTI + "target_link_uri"
RESOURCE_LINK = LTI + "resource_link"
ROLES = LTI + "roles"
CONTEXT = LTI + "context"
CUSTOM = LTI + "custom"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
DL_CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
DL_DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
DL_MSG = "https://purl.imsglobal.org/spec/lti-dl/claim/msg"

RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
TOOL_SCOPES = [
    SCOPE_LINEITEM,
    SCOPE_LINEITEM_READONLY,
    SCOPE_RESULT_READONLY,
    SCOPE_SCORE,
    SCOPE_NRPS,
]

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
SYSTEM = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"

# Our cohort roles, strongest first.
INSTRUCTOR = "instructor"
TA = "ta"
STUDENT = "student"


def _short(role: str) -> str:
    """`...membership#Instructor` and the LTI 1.1 short form `Instructor` alike, and
    sub-roles (`...membership/Instructor#TeachingAssistant`) by their last part."""
    return role.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def context_role(roles: list[str]) -> str | None:
    """The cohort role that a launch's context roles give, or None (no role in the course).

    Only context (membership) roles and short names count: an institution role such as
    `institution/person#Instructor` says what the person is elsewhere in the LMS, not in
    this course.
    """
    short_form = {r for r in roles if "/" not in r and "#" not in r}
    names = {_short(r) for r in roles if r.startswith(MEMBERSHIP) or r in short_form}
    sub_roles = {_short(r) for r in roles if r.startswith(MEMBERSHIP[:-1] + "/")}
    if "TeachingAssistant" in names | sub_roles:
        return TA
    if names & {"Instructor", "Administrator", "ContentDeveloper"}:
        return INSTRUCTOR
    if names & {"Learner", "Member"}:
        return STUDENT
    return None


def is_platform_admin(roles: list[str]) -> bool:
    """An LMS administrator (institution or system role): the registering university's
    admin, since the platform belongs to that university."""
    return any(
        r in (INSTITUTION + "Administrator", SYSTEM + "Administrator", SYSTEM + "SysAdmin")
        for r in roles
    )

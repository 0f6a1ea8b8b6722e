"""University sign-in: SAML 2.0 and OpenID Connect identity providers per university, on
top of django-allauth's providers, and the rules for what their assertions may do.

Read top-down: views → adapter (allauth's hooks) → services (links, JIT accounts) →
attributes (what an assertion says, pure) ; providers and oidc close what allauth leaves
open (SAML replays, id_tokens it does not verify). Single logout: views → logout (what a
sign-in keeps, where logging out goes) → saml_logout (signed SAML logout messages).
"""

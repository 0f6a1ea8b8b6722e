import os

import django
from django.urls import get_resolver

from config import capacity
from config.edge import RequestGuard
from config.handler import application as django_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)
# Each web worker imports its views (and what they import: nbconvert, Markdown, the sandbox
# client) and builds the URL table now, before it accepts a request, not during the first
# requests a class sends after a restart (measured in a burst of submissions: about a
# quarter of a fresh worker's CPU went to those imports).
get_resolver().reverse_dict  # noqa: B018 - populated on first use
# Size, nesting and time limits are enforced around Django, which reads a body whole first.
application = RequestGuard(django_application(threads=capacity.web_threads()))

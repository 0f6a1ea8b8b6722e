import os

import django

from config import capacity
from config.edge import RequestGuard
from config.handler import application as django_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)
# Size, nesting and time limits are enforced around Django, which reads a body whole first.
application = RequestGuard(django_application(threads=capacity.web_threads()))

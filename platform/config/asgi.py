import os

from django.core.asgi import get_asgi_application

from config.edge import RequestGuard

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Size, nesting and time limits are enforced around Django, which reads a body whole first.
application = RequestGuard(get_asgi_application())

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
application = get_wsgi_application()

# gunicorn runs no system checks: an unsafe production configuration must not serve at all.
from shop.core.checks import refuse_unsafe_production  # noqa: E402 - needs the apps loaded above

refuse_unsafe_production()

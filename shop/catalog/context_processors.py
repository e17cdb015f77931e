from django.utils.functional import SimpleLazyObject

from . import services


def catalogue(request):
    """`catalogue_version` keys the templates' {% cache %} fragments; read only by templates that cache."""
    return {
        "catalogue_version": SimpleLazyObject(services.catalogue_version),
        "fragment_timeout": services.FRAGMENT_TIMEOUT,
    }

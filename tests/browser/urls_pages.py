"""The site's URLs plus the work and review pages, for tests that run before
``crowd/urls.py`` includes ``crowd.pages_urls`` (harmless afterwards)."""

from django.urls import include, path

from crowd.urls import urlpatterns as site_urlpatterns

urlpatterns = [*site_urlpatterns, path("", include("crowd.pages_urls"))]

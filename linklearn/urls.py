from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from common.views import api_not_found, bench_floor

api = [
    path("", include("common.urls")),
    path("auth/", include("accounts.urls.auth")),
    # reviews and chat add paths below users/ and sessions/, so they come first.
    path("", include("reviews.urls")),
    path("", include("chat.urls")),
    path("users/", include("accounts.urls.users")),
    path("", include("ledger.urls")),
    path("posts/", include("learning.urls")),
    path("sessions/", include("tutoring.urls")),
    path("presence/", include("presence.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    re_path(r"^.*$", api_not_found, name="api-not-found"),
]

if settings.BENCH_FLOOR_VIEW:
    # Routed only when the benchmark turns it on, so a production process has no such path.
    api.insert(0, path("bench/floor/", bench_floor, name="bench-floor"))

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api)),
]

"""Let API clients leave off the trailing slash.

Django's APPEND_SLASH answers such a request with a redirect, which turns a POST into a GET (or,
with DEBUG on, into a 500). For the API we route the request to the slashed URL internally
instead, so `POST /api/auth/login` works like `POST /api/auth/login/`.
"""

from django.urls import Resolver404, resolve


class ApiTrailingSlashMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith("/api/") and not path.endswith("/") and self._resolves(path + "/"):
            request.path_info = path + "/"
            request.path = request.path + "/"
        return self.get_response(request)

    @staticmethod
    def _resolves(path: str) -> bool:
        try:
            match = resolve(path)
        except Resolver404:
            return False
        # The catch-all that answers unknown API paths with a JSON 404 does not count.
        return match.url_name != "api-not-found"

import re

import pytest


def test_schema_is_served_without_auth(api_client, db):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in (
        "/api/auth/signup/",
        "/api/auth/login/",
        "/api/auth/token/refresh/",
        "/api/auth/logout/",
        "/api/users/",
        "/api/users/me/",
        "/api/users/{id}/",
        "/api/health/",
    ):
        assert path in schema["paths"], path


def test_schema_describes_signup_and_me(api_client, db):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    signup = schema["paths"]["/api/auth/signup/"]["post"]
    assert "201" in signup["responses"]
    assert not signup.get("security")
    assert schema["paths"]["/api/users/me/"]["get"]["security"]
    me = schema["components"]["schemas"]["Me"]["properties"]
    assert {"credits", "email", "average_rating", "total_reviews"} <= set(me)
    patch = schema["components"]["schemas"]["PatchedMeUpdateRequest"]["properties"]
    assert set(patch) == {"name", "availability"}


def test_docs_page_and_its_script_are_served(client, db):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    script = re.search(r'src="([^"]*swagger-ui-bundle\.js)"', html)
    assert script, html[:500]
    asset = client.get(script.group(1))
    assert asset.status_code == 200
    assert b"".join(asset.streaming_content)[:100]


def test_schema_as_json_via_query_parameter(api_client, db):
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert "/api/health/" in response.json()["paths"]


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


@pytest.fixture
def schema(api_client, db):
    return api_client.get("/api/schema/", {"format": "json"}).json()


def _ref(response) -> str:
    return response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]


def test_every_authenticated_operation_documents_401_with_the_error_shape(schema):
    authenticated = [(p, m, o) for p, m, o in _operations(schema) if o.get("security")]
    assert len(authenticated) > 25
    for path, method, operation in authenticated:
        assert _ref(operation["responses"]["401"]) == "Error", (method, path)
        assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]


def test_every_operation_with_an_id_in_its_path_documents_404(schema):
    for path, method, operation in _operations(schema):
        if "{" in path:
            assert _ref(operation["responses"]["404"]) == "Error", (method, path)


def test_every_operation_with_a_body_documents_field_errors_and_body_limits(schema):
    for path, method, operation in _operations(schema):
        if "requestBody" in operation:
            assert _ref(operation["responses"]["400"]) == "ValidationError", (method, path)
            assert {"413", "415"} <= set(operation["responses"]), (method, path)


def test_throttled_operations_document_429_with_retry_after(schema):
    for path in ("/api/auth/signup/", "/api/auth/login/", "/api/auth/token/refresh/"):
        response = schema["paths"][path]["post"]["responses"]["429"]
        assert _ref(response) == "Error"
        assert "Retry-After" in response["headers"]


def test_refresh_and_logout_document_their_400_as_field_errors(schema):
    for path in ("/api/auth/token/refresh/", "/api/auth/logout/"):
        assert _ref(schema["paths"][path]["post"]["responses"]["400"]) == "ValidationError", path
    shape = schema["components"]["schemas"]["ValidationError"]
    assert shape["additionalProperties"]["oneOf"][1] == {"type": "array", "items": {"type": "string"}}


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("post", "/api/posts/", {"409"}),
        ("patch", "/api/posts/{id}/", {"403", "409"}),
        ("delete", "/api/posts/{id}/", {"403"}),
        ("post", "/api/sessions/", {"409"}),
        ("post", "/api/sessions/{id}/respond/", {"403", "409"}),
        ("post", "/api/sessions/{id}/timer/stop/", {"403", "409"}),
        ("post", "/api/sessions/{id}/end/", {"409"}),
        ("post", "/api/sessions/{session_id}/reviews/", {"409"}),
        ("post", "/api/bank/support/", {"409"}),
        ("get", "/api/sessions/{session_id}/messages/", {"400"}),
    ],
)
def test_errors_only_the_service_knows_are_documented_with_the_standard_shape(schema, method, path, statuses):
    responses = schema["paths"][path][method]["responses"]
    for status in statuses:
        assert "content" in responses[status], (status, method, path)


def test_a_new_endpoint_gets_its_standard_errors_without_declaring_them():
    from django.urls import path
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.utils import extend_schema
    from rest_framework import serializers
    from rest_framework.response import Response
    from rest_framework.throttling import AnonRateThrottle
    from rest_framework.views import APIView

    class Widget(APIView):
        throttle_classes = [AnonRateThrottle]

        @extend_schema(responses=serializers.DictField())
        def get(self, request, pk):
            return Response({})

    patterns = [path("widgets/<int:pk>/", Widget.as_view())]
    generated = SchemaGenerator(patterns=patterns).get_schema(public=True)
    responses = generated["paths"]["/widgets/{id}/"]["get"]["responses"]
    assert {"401", "404", "429"} <= set(responses)


def test_the_schema_validates_without_a_single_warning(tmp_path, db):
    from django.core.management import call_command

    # Exits non-zero on any warning or OpenAPI validation error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi:")

import re


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

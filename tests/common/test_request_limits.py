import json


def test_malformed_json_is_400(api_client, db):
    response = api_client.post("/api/auth/login/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_invalid_utf8_is_400(api_client, db):
    response = api_client.post("/api/auth/login/", b'{"email": "\xff"}', content_type="application/json")
    assert response.status_code == 400


def test_body_over_one_mib_is_413(api_client, db):
    body = json.dumps({"email": "a@example.com", "password": "x" * (1024 * 1024)})
    response = api_client.post("/api/auth/login/", body, content_type="application/json")
    assert response.status_code == 413
    assert "detail" in response.json()


def test_body_over_one_mib_is_refused_before_authentication(user, client_for):
    body = json.dumps({"availability": "x" * (1024 * 1024 + 1)})
    response = client_for(user).patch("/api/users/me/", body, content_type="application/json")
    assert response.status_code == 413


def test_body_just_under_the_limit_is_read(api_client, db):
    body = json.dumps({"email": "a@example.com", "password": "x" * (1024 * 1024 - 100)})
    # Read and validated (the password field is capped far lower), not refused for its size.
    assert api_client.post("/api/auth/login/", body, content_type="application/json").status_code == 400


def test_unsupported_media_type_is_415(api_client, db):
    response = api_client.post(
        "/api/auth/login/", "email=a", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415


# 200 KB, well under the size limit, but deeper than Python's recursion limit.
DEEPLY_NESTED = "[" * 100_000 + "]" * 100_000


def test_deeply_nested_json_is_400_on_login(api_client, db):
    response = api_client.post("/api/auth/login/", DEEPLY_NESTED, content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_deeply_nested_json_is_400_on_posts(user, client_for):
    response = client_for(user).post("/api/posts/", DEEPLY_NESTED, content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()

"""Security checks of the review app (issue 9, OWASP ASVS L2 as yardstick)."""

from __future__ import annotations

from typing import Any

from tests.app.conftest import PASSWORD, login


def test_login_ok_sets_an_httponly_session_cookie(app: Any) -> None:
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        response = login(client, "rev1")
        assert response.status_code == 303
        assert response.headers["location"] == "/queue"
        cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "safemed_session" in v)
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
        assert "Secure" not in cookie  # plain-HTTP test server
    assert PASSWORD

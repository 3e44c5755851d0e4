"""Admin user management pages (/admin/users): list, add, disable/enable, reset password — every
change a POST with the CSRF token, admin only, audited (issue 9: user management)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .conftest import login


def _shown_password(html: str) -> str:
    match = re.search(r'<p class="secret"><code>([^<]+)</code></p>', html)
    assert match, html
    return match.group(1)


def test_admin_sees_every_user(client_for: Any) -> None:
    page = client_for("admin").get("/admin/users")
    assert page.status_code == 200
    for name in ("rev1", "rev2", "adj1", "admin1"):
        assert f"<td>{name}</td>" in page.text
    assert "cardiology" in page.text


def test_add_user_shows_a_password_once_that_signs_in(app: Any, client_for: Any, app_env: Any) -> None:
    admin = client_for("admin")
    page = admin.post("/admin/users", data={"name": "dr.lee@example.org", "role": "reviewer",
                                            "specialties": "cardiology, pediatrics", "language": "zh",
                                            "csrf_token": admin.csrf})
    assert page.status_code == 200
    password = _shown_password(page.text)
    record = app_env.store.get_user("dr.lee@example.org")
    assert record.role == "reviewer" and record.specialties == ("cardiology", "pediatrics") and record.language == "zh"
    assert record.password_hash.startswith("$argon2id$") and password not in record.password_hash
    audit = app_env.store.recent_audit(5, event="user_added")[0]
    assert audit.user_name == "admin1" and "dr.lee@example.org" in audit.detail and password not in audit.detail
    assert password not in admin.get("/admin/users").text
    with TestClient(app) as client:
        assert login(client, "dr.lee@example.org", password).status_code == 303


@pytest.mark.parametrize("form, field", [
    ({"name": "", "role": "admin"}, "core.users.error.name_required"),
    ({"name": "two words", "role": "admin"}, "core.users.error.name_invalid"),
    ({"name": "rev1", "role": "admin"}, "core.users.error.name_taken"),
    ({"name": "new1", "role": "superuser"}, "core.users.error.role"),
    ({"name": "new1", "role": "reviewer", "specialties": " , "}, "core.users.error.specialty_required"),
    ({"name": "new1", "role": "admin", "language": "fr"}, "core.users.error.language"),
])
def test_add_user_validates(client_for: Any, app_env: Any, form: dict[str, str], field: str) -> None:
    from safemed.app.i18n import t

    admin = client_for("admin")
    before = len(app_env.store.list_users())
    page = admin.post("/admin/users", data={**form, "csrf_token": admin.csrf})
    assert page.status_code == 422
    assert t(field) in page.text
    assert len(app_env.store.list_users()) == before


def test_disable_and_enable(app: Any, client_for: Any, app_env: Any) -> None:
    admin = client_for("admin")
    rev2 = app_env.store.get_user("rev2")
    response = admin.post(f"/admin/users/{rev2.id}/disable", data={"csrf_token": admin.csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/admin/users?notice=disabled"
    assert app_env.store.get_user("rev2").disabled
    with TestClient(app) as client:
        assert login(client, "rev2").status_code == 401
    assert app_env.store.recent_audit(5, event="user_disabled")[0].detail == "rev2"
    admin.post(f"/admin/users/{rev2.id}/enable", data={"csrf_token": admin.csrf})
    assert not app_env.store.get_user("rev2").disabled
    with TestClient(app) as client:
        assert login(client, "rev2").status_code == 303


def test_admin_cannot_disable_themselves(client_for: Any, app_env: Any) -> None:
    admin = client_for("admin")
    response = admin.post(f"/admin/users/{admin.user.id}/disable", data={"csrf_token": admin.csrf})
    assert response.status_code == 409
    assert not app_env.store.get_user("admin1").disabled


def test_reset_password_clears_lockout_and_ends_sessions(app: Any, client_for: Any, app_env: Any) -> None:
    reviewer = client_for("rev1")
    with TestClient(app) as attacker:
        for _ in range(app_env.settings.max_failures):
            login(attacker, "rev1", "definitely wrong")
    assert app_env.store.get_user("rev1").locked_until > 0
    admin = client_for("admin")
    page = admin.post(f"/admin/users/{reviewer.user.id}/password", data={"csrf_token": admin.csrf})
    password = _shown_password(page.text)
    assert app_env.store.get_user("rev1").locked_until == 0
    assert reviewer.get("/", follow_redirects=False).headers["location"] == "/login"
    with TestClient(app) as client:
        assert login(client, "rev1").status_code == 401  # the old password is gone
        assert login(client, "rev1", password).status_code == 303
    assert app_env.store.recent_audit(5, event="password_reset")[0].detail == "rev1"


def test_unknown_user_id_is_404(client_for: Any) -> None:
    admin = client_for("admin")
    for action in ("disable", "enable", "password"):
        assert admin.post(f"/admin/users/9999/{action}", data={"csrf_token": admin.csrf}).status_code == 404


@pytest.mark.parametrize("who", ["reviewer", "adjudicator"])
def test_every_user_route_is_admin_only(client_for: Any, app_env: Any, who: str) -> None:
    client = client_for(who)
    target = app_env.store.get_user("rev2").id
    calls = [("get", "/admin/users", None),
             ("post", "/admin/users", {"name": "sneaky", "role": "admin"}),
             ("post", f"/admin/users/{target}/disable", {}),
             ("post", f"/admin/users/{target}/enable", {}),
             ("post", f"/admin/users/{target}/password", {})]
    for method, path, data in calls:
        if method == "get":
            response = client.get(path)
        else:
            response = client.post(path, data={**(data or {}), "csrf_token": client.csrf})
        assert response.status_code == 403, path
    denied = app_env.store.recent_audit(20, event="permission_denied")
    assert len([r for r in denied if r.user_name == client.user.name]) == len(calls)
    assert app_env.store.get_user("sneaky") is None and not app_env.store.get_user("rev2").disabled


def test_anonymous_posts_are_refused_before_reaching_the_route(anon_client: TestClient, app_env: Any) -> None:
    target = app_env.store.get_user("rev2").id
    response = anon_client.post(f"/admin/users/{target}/disable", data={"csrf_token": anon_client.csrf},
                                follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert not app_env.store.get_user("rev2").disabled

"""Security checks of the review app (issue 9; OWASP ASVS level 2 as the yardstick).

Each test names the ASVS requirement it covers. Everything runs against the real app on a real
SQLite ledger (``app_env``): real argon2 hashes, real sessions table, real audit log.
"""

from __future__ import annotations

import re
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from safemed.app import security
from safemed.app.render import TEMPLATES, diff_html, markdown, think_blocks
from safemed.app.security import SESSION_COOKIE, session_hash
from safemed.app.settings import AppSettings, load_or_create_secret, secret_path

from .conftest import PASSWORD, login


def _set_cookies(response: Any) -> list[str]:
    return [v for k, v in response.headers.multi_items() if k.lower() == "set-cookie"]


def _session_cookie(response: Any) -> str:
    return next(c for c in _set_cookies(response) if c.startswith(SESSION_COOKIE + "="))


def _events(ctx: Any, event: str) -> list[Any]:
    return ctx.store.recent_audit(200, event=event)


# -- sign-in (ASVS V2) -------------------------------------------------------------------------

def test_login_ok_lands_on_the_role_page_with_a_hardened_cookie(app: Any, app_env: Any) -> None:
    """V3.4.2/V3.4.3: HttpOnly and SameSite; no Secure flag on plain HTTP (it would never come back)."""
    with TestClient(app) as client:
        response = login(client, "rev1")
        assert response.status_code == 303 and response.headers["location"] == "/queue"
        cookie = _session_cookie(response)
        assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Secure" not in cookie
        assert "Path=/" in cookie
    rows = _events(app_env, "login_ok")
    assert rows and rows[0].user_name == "rev1" and rows[0].ip == "testclient"


@pytest.mark.parametrize("who, home", [("adj1", "/adjudicate"), ("admin1", "/admin")])
def test_each_role_lands_on_its_own_start_page(app: Any, who: str, home: str) -> None:
    with TestClient(app) as client:
        assert login(client, who).headers["location"] == home
        assert client.get("/", follow_redirects=False).headers["location"] == home


def test_session_cookie_is_secure_over_https(app: Any) -> None:
    """V3.4.1: Secure when the request came over HTTPS."""
    with TestClient(app, base_url="https://testserver") as client:
        response = login(client, "rev1")
        assert response.status_code == 303
        assert "Secure" in _session_cookie(response)
        assert all("Secure" in c for c in _set_cookies(client.get("/login")))


@pytest.mark.parametrize("app_settings_overrides", [{"cookie_secure": True}])
def test_cookie_secure_can_be_forced_by_settings(app: Any) -> None:
    """Behind a TLS proxy that does not forward the scheme: ``SAFEMED_APP_COOKIE_SECURE=true``."""
    with TestClient(app) as client:
        page = client.get("/login")
        assert "Secure" in " ".join(_set_cookies(page))
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        client.cookies.clear()  # the jar keeps Secure cookies but never sends them over plain HTTP
        client.cookies.set("safemed_csrf", token)
        response = client.post("/login", data={"name": "rev1", "password": PASSWORD, "csrf_token": token},
                               follow_redirects=False)
        assert response.status_code == 303 and "Secure" in _session_cookie(response)


def test_failed_logins_get_one_generic_answer(app: Any, app_env: Any) -> None:
    """V2.2/V3: the same status and message for a wrong password and an unknown name."""
    with TestClient(app) as client:
        wrong = login(client, "rev1", "not the password at all")
        unknown = login(client, "nobody@example.org", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    message = re.compile(r'<p class="msg msg-error" role="alert">(.*?)</p>', re.S)
    assert message.search(wrong.text) and message.search(wrong.text).group(1) == message.search(unknown.text).group(1)
    assert SESSION_COOKIE not in " ".join(_set_cookies(wrong))
    details = [r.detail for r in _events(app_env, "login_failed")]
    assert "wrong password" in details and "unknown name" in details
    assert all(PASSWORD not in r.detail for r in app_env.store.recent_audit(500))


def test_lockout_after_max_failures(app: Any, app_env: Any) -> None:
    """V2.2.1: after max_failures wrong passwords even the right one is refused (audited)."""
    with TestClient(app) as client:
        for _ in range(app_env.settings.max_failures):
            assert login(client, "rev2", "wrong wrong wrong").status_code == 401
        assert _events(app_env, "locked_out")[0].user_name == "rev2"
        locked = login(client, "rev2")
        assert locked.status_code == 401
        assert "locked" in [r.detail for r in _events(app_env, "login_failed")]
        assert login(client, "rev1").status_code == 303  # other accounts unaffected
    assert app_env.store.get_user("rev2").locked_until > 0


@pytest.mark.parametrize("app_settings_overrides", [{"login_rate_per_minute": 3, "max_failures": 100}])
def test_login_rate_limited_per_address(app: Any, app_env: Any) -> None:
    """V2.2.1: more than the per-minute rate from one address → 429, even with good credentials."""
    with TestClient(app, client=("10.0.0.1", 5000)) as client:
        for n in range(3):
            assert login(client, f"guess{n}", "bad password guess").status_code == 401
        assert login(client, "rev1").status_code == 429
    with TestClient(app, client=("10.0.0.2", 5000)) as other:
        assert login(other, "rev1").status_code == 303
    assert "rate limited" in [r.detail for r in _events(app_env, "login_failed")]


@pytest.mark.parametrize("app_settings_overrides", [{"login_rate_per_minute": 3, "max_failures": 100}])
def test_login_rate_limited_per_account(app: Any) -> None:
    """Guesses spread over many addresses still hit the per-account-name limit."""
    for n in range(3):
        with TestClient(app, client=(f"10.1.0.{n}", 5000)) as client:
            assert login(client, "rev1", "bad password guess").status_code == 401
    with TestClient(app, client=("10.1.0.99", 5000)) as client:
        assert login(client, "rev1").status_code == 429


def test_next_parameter_cannot_leave_the_site(app: Any) -> None:
    """V5.1.5: no open redirect through ``next``."""
    def land(target: str) -> str:
        with TestClient(app) as client:
            client.get("/login")
            response = client.post("/login", data={"name": "admin1", "password": PASSWORD, "next": target,
                                                   "csrf_token": client.cookies["safemed_csrf"]},
                                   follow_redirects=False)
            return str(response.headers["location"])

    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        assert land(target) == "/admin", target
    assert land("/admin/users") == "/admin/users"


# -- sessions (ASVS V3) ------------------------------------------------------------------------

def test_session_id_changes_at_login_and_the_old_one_dies(app: Any, app_env: Any) -> None:
    """V3.2.1: a new session id at every sign-in; the previous session is removed server-side."""
    with TestClient(app) as client:
        login(client, "rev1")
        first = client.cookies[SESSION_COOKIE]
        login(client, "rev2")
        second = client.cookies[SESSION_COOKIE]
    assert first != second
    assert app_env.store.session(session_hash(first), idle_s=3600) is None
    assert app_env.store.session(session_hash(second), idle_s=3600).user.name == "rev2"


def test_a_planted_session_id_is_never_adopted(app: Any, app_env: Any) -> None:
    """Session fixation: a cookie value chosen by an attacker is replaced at sign-in."""
    with TestClient(app) as client:
        client.cookies.set(SESSION_COOKIE, "attacker-chosen-value", domain="testserver.local")
        login(client, "rev1")
        assert client.cookies[SESSION_COOKIE] != "attacker-chosen-value"
    assert app_env.store.session(session_hash("attacker-chosen-value"), idle_s=3600) is None


def test_session_table_holds_only_hashes(app: Any, app_env: Any) -> None:
    """V3.2.3-ish: a copy of the database does not hand out live session ids."""
    with TestClient(app) as client:
        login(client, "rev1")
        raw = client.cookies[SESSION_COOKIE]
    db = sqlite3.connect(app_env.settings.db_url)
    stored = [row[0] for row in db.execute("SELECT id_hash FROM app_sessions")]
    db.close()
    assert session_hash(raw) in stored and raw not in stored


def test_logout_ends_the_session_on_the_server(client_for: Any, app_env: Any) -> None:
    """V3.3.1: after sign-out the old cookie no longer works."""
    client = client_for("admin")
    raw = client.cookies[SESSION_COOKIE]
    response = client.post("/logout", data={"csrf_token": client.csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert app_env.store.session(session_hash(raw), idle_s=3600) is None
    assert _events(app_env, "logout")[0].user_name == "admin1"
    client.cookies.set(SESSION_COOKIE, raw, domain="testserver.local")
    again = client.get("/admin/users", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login?next=/admin/users")


@pytest.mark.parametrize("app_settings_overrides", [{"idle_minutes": 0}, {"session_minutes": 0}])
def test_idle_and_absolute_timeouts(app: Any, app_settings_overrides: dict[str, int]) -> None:
    """V3.3.2: a session past its idle or absolute limit sends the user back to sign-in."""
    with TestClient(app) as client:
        assert login(client, "admin1").status_code == 303
        response = client.get("/admin/users", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
        assert "safemed_session=;" in " ".join(_set_cookies(response)).replace('safemed_session=""', "safemed_session=")


def test_disabling_a_user_ends_their_sessions(client_for: Any, app_env: Any) -> None:
    reviewer = client_for("rev2")
    admin = client_for("admin")
    target = app_env.store.get_user("rev2")
    admin.post(f"/admin/users/{target.id}/disable", data={"csrf_token": admin.csrf})
    response = reviewer.get("/", follow_redirects=False)
    assert response.headers["location"] == "/login"


# -- CSRF (ASVS V4.2.2) ------------------------------------------------------------------------

def _post_routes(app: Any) -> list[str]:
    """Every state-changing path of every router the app includes (path parameters filled with 1)."""
    import importlib

    modules = ["routes_auth", "routes_users", *app.state.page_routers]
    paths = []
    for route in (r for name in modules for r in importlib.import_module(f"safemed.app.{name}").router.routes):
        methods = getattr(route, "methods", None) or set()
        if methods & {"POST", "PUT", "PATCH", "DELETE"}:
            paths.append(re.sub(r"\{[^}]+\}", "1", route.path))
    return sorted(set(paths))


def test_core_post_routes_are_all_there(app: Any) -> None:
    paths = _post_routes(app)
    for expected in ("/login", "/logout", "/language", "/admin/users", "/admin/users/1/disable",
                     "/admin/users/1/enable", "/admin/users/1/password"):
        assert expected in paths


@pytest.mark.parametrize("who", ["admin", "reviewer", "adjudicator"])
def test_every_state_changing_route_refuses_a_missing_or_wrong_token(app: Any, client_for: Any, app_env: Any,
                                                                     who: str) -> None:
    """Every POST route of the app (this package's and the page modules') → 403 + csrf_failed."""
    client = client_for(who)
    paths = _post_routes(app)
    before = len(_events(app_env, "csrf_failed"))
    for path in paths:
        missing = client.post(path, data={"x": "1"}, follow_redirects=False)
        assert missing.status_code == 403, path
        wrong = client.post(path, data={"csrf_token": "not-the-token"}, follow_redirects=False)
        assert wrong.status_code == 403, path
        header = client.post(path, headers={"X-CSRF-Token": client.csrf[:-1] + "x"}, follow_redirects=False)
        assert header.status_code == 403, path
        other = client.post(path, files={"csrf_token": (None, "nope")}, follow_redirects=False)
        assert other.status_code == 403, path
    rows = _events(app_env, "csrf_failed")
    assert len(rows) - before == 4 * len(paths)
    assert rows[0].user_name == client.user.name


def test_the_right_token_passes_as_field_header_or_multipart(client_for: Any) -> None:
    client = client_for("admin")
    assert client.post("/language", data={"lang": "zh", "csrf_token": client.csrf}).status_code == 200
    assert client.post("/language", data={"lang": "en"}, headers={"X-CSRF-Token": client.csrf}).status_code == 200
    assert client.post("/language", files={"csrf_token": (None, client.csrf), "lang": (None, "zh")}).status_code == 200


def test_login_form_needs_the_pre_session_token(app: Any, app_env: Any) -> None:
    """Login CSRF: signing a victim into the attacker's account needs the double-submit cookie."""
    with TestClient(app) as client:
        client.get("/login")
        response = client.post("/login", data={"name": "rev1", "password": PASSWORD}, follow_redirects=False)
        assert response.status_code == 403
        assert SESSION_COOKIE not in client.cookies
    with TestClient(app) as fresh:  # no cookie at all
        response = fresh.post("/login", data={"name": "rev1", "password": PASSWORD,
                                              "csrf_token": "x" * 43}, follow_redirects=False)
        assert response.status_code == 403


def test_old_session_token_is_useless_after_relogin(app: Any, app_env: Any) -> None:
    with TestClient(app) as client:
        login(client, "admin1")
        old = app_env.store.session(session_hash(client.cookies[SESSION_COOKIE]), idle_s=60).csrf
        login(client, "admin1")
        assert client.post("/language", data={"lang": "en", "csrf_token": old}).status_code == 403


# -- headers and templates (ASVS V14.4, V5.3.3) ------------------------------------------------

@pytest.mark.parametrize("path", ["/login", "/healthz", "/static/app.js", "/no/such/page"])
def test_security_headers_on_every_response(anon_client: TestClient, path: str) -> None:
    response = anon_client.get(path)
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp and "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    expected_cache = "public, max-age=3600" if path.startswith("/static/") else "no-store"
    assert response.headers["cache-control"] == expected_cache


def test_headers_also_on_refusals(client_for: Any) -> None:
    response = client_for("reviewer").post("/logout")
    assert response.status_code == 403 and "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_no_inline_script_or_style_in_any_template() -> None:
    """The CSP forbids inline script and style; every template (all page modules) must do without."""
    problems = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"<script\b([^>]*)>", text, re.I):
            if "src=" not in match.group(1):
                problems.append(f"{path.name}: inline <script>")
        if re.search(r"<style\b", text, re.I):
            problems.append(f"{path.name}: <style> element")
        if re.search(r"\sstyle\s*=", text, re.I):
            problems.append(f"{path.name}: style attribute")
        if re.search(r"\son[a-z]+\s*=", text, re.I):
            problems.append(f"{path.name}: inline event handler")
        if re.search(r"javascript:", text, re.I):
            problems.append(f"{path.name}: javascript: URL")
    assert problems == []


def test_pages_escape_user_text(client_for: Any, app_env: Any) -> None:
    """V5.3.3: a ``<script>`` typed as a user name shows as text, on the page and in the navigation."""
    admin = client_for("admin")
    evil = "<script>alert(1)</script>"
    page = admin.post("/admin/users", data={"name": evil, "role": "admin", "csrf_token": admin.csrf})
    assert page.status_code == 200
    listing = admin.get("/admin/users").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing and evil not in listing
    assert app_env.store.get_user(evil) is not None


def test_markdown_think_and_diff_helpers_escape_html() -> None:
    assert "<script>" not in markdown("hello <script>alert(1)</script>")
    assert "&lt;script&gt;" in markdown("<script>alert(1)</script>")
    assert 'href="javascript' not in markdown("[x](javascript:alert(1))")
    blocks = think_blocks("<think>first <b>this</b></think>\n\nThe answer is **B**.")
    assert [b.kind for b in blocks] == ["think", "text"]
    assert "<b>" not in blocks[0].html and "<strong>B</strong>" in blocks[1].html
    assert [b.kind for b in think_blocks("<think>never closed")] == ["think"]
    assert [b.kind for b in think_blocks("no tags")] == ["text"]
    html = diff_html("line one\n<old>", "line one\n<script>x</script>")
    assert '<span class="diff-del">-&lt;old&gt;</span>' in html
    assert '<span class="diff-add">+&lt;script&gt;x&lt;/script&gt;</span>' in html
    assert "<script>" not in html


# -- authorisation (ASVS V4.1) -----------------------------------------------------------------

@pytest.mark.parametrize("who", ["reviewer", "adjudicator"])
def test_wrong_role_gets_403_and_an_audit_row(client_for: Any, app_env: Any, who: str) -> None:
    client = client_for(who)
    response = client.get("/admin/users")
    assert response.status_code == 403
    assert "frame-ancestors" in response.headers["content-security-policy"]
    row = _events(app_env, "permission_denied")[0]
    assert row.user_name == client.user.name and "/admin/users" in row.detail
    user_id = app_env.store.get_user("rev2").id
    posted = client.post(f"/admin/users/{user_id}/disable", data={"csrf_token": client.csrf})
    assert posted.status_code == 403
    assert app_env.store.get_user("rev2").disabled is False


def test_no_session_redirects_to_login_with_next(anon_client: TestClient) -> None:
    response = anon_client.get("/admin/users?x=1", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/admin/users%3Fx%3D1"


def test_passwords_are_stored_as_argon2id_only(app_env: Any) -> None:
    """V2.4.1: argon2id hashes; the password itself is nowhere in the database file."""
    record = app_env.store.get_user("rev1")
    assert record.password_hash.startswith("$argon2id$")
    assert security.verify_password(record.password_hash, PASSWORD)
    assert not security.verify_password(record.password_hash, PASSWORD + "x")
    assert not security.verify_password(None, PASSWORD)
    assert PASSWORD.encode() not in Path(app_env.settings.db_url).read_bytes()


def test_password_policy() -> None:
    assert security.password_problem("short") == "core.password.too_short"
    assert security.password_problem("x" * 300) == "core.password.too_long"
    assert security.password_problem("twelve chars") is None
    assert security.password_problem(security.random_password()) is None


# -- configuration (ASVS V14.1/V6.4) -----------------------------------------------------------

def test_secret_file_generated_once_with_mode_0600(tmp_path: Path) -> None:
    path = secret_path(str(tmp_path / "ledger.db"), {})
    assert path == tmp_path / "ledger.db.app-secret"
    first = load_or_create_secret(path)
    assert len(first) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == first
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_settings_from_env(tmp_path: Path) -> None:
    env = {"SAFEMED_APP_DB": str(tmp_path / "x.db"), "SAFEMED_APP_IDLE_MINUTES": "5",
           "SAFEMED_APP_COOKIE_SECURE": "true", "SAFEMED_APP_LANGUAGE": "zh"}
    settings = AppSettings.from_env(env)
    assert settings.idle_minutes == 5 and settings.cookie_secure is True and settings.default_language == "zh"
    assert (tmp_path / "x.db.app-secret").exists()
    assert AppSettings.from_env({**env, "SAFEMED_APP_SECRET": "s" * 40}).secret_key == "s" * 40
    assert AppSettings.from_env(settings.to_env()) == settings
    from safemed.errors import ConfigError

    with pytest.raises(ConfigError, match="IDLE_MINUTES"):
        AppSettings.from_env({**env, "SAFEMED_APP_IDLE_MINUTES": "soon"})


def test_secret_never_in_the_repository() -> None:
    repo = Path(__file__).resolve().parents[2]
    assert not list(repo.glob("**/*.app-secret")) and not (repo / "app-secret").exists()


def test_no_raw_sql_in_the_app_or_the_rating_store() -> None:
    """ASVS 5.3.4: queries are SQLAlchemy expressions with bound parameters; nothing in the app or
    the rating store hands SQL text to the database (no ``text(…)``, no driver-level strings)."""
    import ast

    root = Path(__file__).resolve().parents[2] / "src" / "safemed"
    offenders = []
    for path in [*(root / "app").rglob("*.py"), *(root / "ratings").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sqlalchemy"):
                offenders += [f"{path.name}: imports {alias.name}" for alias in node.names
                              if alias.name in {"text", "literal_column", "TextClause"}]
            if isinstance(node, ast.Attribute) and node.attr in {"exec_driver_sql", "text"} and \
                    isinstance(node.value, ast.Name) and node.value.id in {"sa", "sqlalchemy", "conn", "connection"}:
                offenders.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "execute" \
                    and node.args and isinstance(node.args[0], ast.Constant | ast.JoinedStr):
                offenders.append(f"{path.name}:{node.lineno}: execute() of a string")
    assert offenders == []


def test_an_unhandled_error_is_a_plain_500_with_the_security_headers(app: Any) -> None:
    """A bug in a route must not leak a traceback or drop the CSP and framing headers."""
    def boom() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/boom-for-test", boom)
    with TestClient(app) as client:
        response = client.get("/boom-for-test")
    assert response.status_code == 500
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"

"""A server restart loses nothing (issue 9, "Reliability": sessions, drafts, leases and every
submission live in the database, not in a worker's memory).

The first app instance signs a reviewer in, submits one review and leaves a draft on the next
item; it is then closed and a second instance is built from the same settings — a restart, or
another worker. The same browser cookie is still signed in there, the draft comes back, the
review is in the ledger and the ledger verifies.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from safemed.app.context import build_context
from safemed.app.factory import create_app
from safemed.curate import integrity

from .test_review_routes import TOKEN_LINK, _form, _location, _next_token


def test_a_restart_keeps_sessions_drafts_and_reviews(app_env: Any, client_for: Any) -> None:
    rev1 = client_for("rev1")
    first = _next_token(rev1)
    page = rev1.get(f"/review/{first}")
    done = rev1.post(f"/review/{first}", data=_form(rev1, page.text, verdict="accept"), follow_redirects=False)
    assert _location(done).startswith("/review/next?notice=submitted")
    size = app_env.ledger.size()
    second = _next_token(rev1)
    page = rev1.get(f"/review/{second}")
    draft = rev1.post(f"/review/{second}/draft", data=_form(rev1, page.text, comment="to finish after lunch"),
                      headers={"X-Requested-With": "fetch"})
    assert draft.status_code == 200
    cookies = dict(rev1.cookies)

    settings = app_env.settings
    app_env.close()  # the old process is gone
    restarted = build_context(settings)
    try:
        with TestClient(create_app(restarted), cookies=cookies) as again:
            queue = again.get("/queue", follow_redirects=False)
            assert queue.status_code == 200  # the session survived: no sign-in needed
            assert "draft saved" in queue.text
            token = TOKEN_LINK.findall(queue.text)[0]
            item = again.get(f"/review/{token}")
            assert "to finish after lunch" in item.text and "Your draft was restored" in item.text
            assert re.search(r'<meta name="csrf-token" content="[^"]+">', item.text)
        assert restarted.ledger.size() == size  # the review is there, nothing was appended by the restart
        report = integrity.verify_now(restarted.ledger)
        assert report["ok"] and report["read_model_ok"]
    finally:
        restarted.close()

"""The stand-in server's own endpoints: the model list and the timing stats benchmarks read."""

from __future__ import annotations

import json
import urllib.request

from safemed.testing import StandinServer


def fetch(url: str, method: str = "GET", body: dict[str, object] | None = None) -> dict[str, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        result: dict[str, object] = json.loads(resp.read())
    return result


def test_stats_record_first_request_and_last_reply_then_reset() -> None:
    with StandinServer() as server:
        root = server.url.removesuffix("/v1")
        assert fetch(server.url + "/models")["data"] == [{"id": "standin", "object": "model"}]
        assert fetch(root + "/_standin/stats") == {"total": 0, "first_request_at": None, "last_reply_at": None}
        for i in range(3):
            fetch(server.url + "/chat/completions", "POST",
                  {"model": "m", "messages": [{"role": "user", "content": f"Q{i}\nA. x\nB. y"}]})
        stats = fetch(root + "/_standin/stats")
        assert stats["total"] == 3
        first, last = stats["first_request_at"], stats["last_reply_at"]
        assert isinstance(first, float) and isinstance(last, float) and first <= last
        fetch(root + "/_standin/reset", "POST")
        assert fetch(root + "/_standin/stats")["total"] == 0 and not server.requests

"""``report.html``: ``evidence.json`` rendered through one Jinja2 template, autoescaped.

The governance board gets one file that opens offline (issue 12): styles inline, figures as
base64 PNG data URIs, no script, font or stylesheet from anywhere, and every piece of text from
the artifacts escaped (a prompt with ``<script>`` in it shows as text).
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{100 * float(x):.1f}"


def _num(x: Any, digits: int = 2) -> str:
    return "n/a" if x is None else f"{float(x):.{digits}f}"


def _ci(c: Any, pct: bool = False) -> str:
    if not c or None in c:
        return "—"
    lo, hi = (100 * float(c[0]), 100 * float(c[1])) if pct else (float(c[0]), float(c[1]))
    return f"[{lo:.1f}, {hi:.1f}]" if pct else f"[{lo:.2f}, {hi:.2f}]"


def _scalar(x: Any) -> bool:
    return x is None or isinstance(x, str | int | float | bool)


def environment() -> Environment:
    env = Environment(loader=PackageLoader("safemed.report", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pct=_pct, num=_num, ci=_ci)
    env.tests["scalar"] = _scalar
    env.tests["mapping"] = lambda x: isinstance(x, dict)
    env.tests["rows"] = lambda x: isinstance(x, list) and bool(x) and all(isinstance(r, dict) for r in x)
    return env


def render_html(evidence: dict[str, Any], figures: dict[str, list[dict[str, str]]]) -> str:
    """The whole report as one HTML string."""
    return environment().get_template("report.html.j2").render(ev=evidence, figures=figures)

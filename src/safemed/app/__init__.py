"""The clinician review web app (L4): SafeMed-R1's physician scoring and editing, expert-panel
adjudication and judge labelling as server-rendered pages on the CTS ledger.

The app writes the ledger only through ``safemed.curate`` and rates outside it through
``safemed.ratings``. Start it with ``safemed app`` (``cli/app_cmd.py``); build it in code with
:func:`safemed.app.factory.create_app`.
"""

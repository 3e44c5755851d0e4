"""An export is checkable by a third party with nothing but hashlib and json (VERIFY.md)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from safemed.cli.ledger_cmd import ledger as ledger_cli
from safemed.ledger import Ledger, LedgerTamperedError, export_ledger, load_keys
from safemed.ledger.db import make_engine
from safemed.ledger.state import all_states
from safemed.records.curation import LedgerEvent

from .factory import full_lifecycle, item_events


def third_party_root(folder: Path) -> tuple[int, str]:
    """The recipe of VERIFY.md, written with the standard library only."""
    def mth(hashes: list[bytes]) -> bytes:
        if not hashes:
            return hashlib.sha256(b"").digest()
        if len(hashes) == 1:
            return hashes[0]
        k = 1 << ((len(hashes) - 1).bit_length() - 1)
        return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()

    lines = [line[:-1] for line in (folder / "events.jsonl").read_bytes().splitlines(keepends=True)]
    assert all(json.loads(line)["seq"] == i for i, line in enumerate(lines))
    return len(lines), mth([hashlib.sha256(b"\x00" + line).digest() for line in lines]).hex()


def test_export_recomputes_with_sha256_only(tmp_path: Path, key_file: Path) -> None:
    db = str(tmp_path / "l.db")
    with Ledger.open(db, keys=load_keys(key_file)) as ledger:
        ledger.append(ev for i in range(20) for ev in item_events(i))
        ledger.append(full_lifecycle("life"))
        cp = ledger.checkpoint()
    with Ledger.open(db) as unsigned:
        unsigned.append(item_events(50))  # no key at hand: covered by no checkpoint yet
    current = tmp_path / "current"
    result = CliRunner().invoke(ledger_cli, ["export", "--db", db, "--out", str(current)])
    assert result.exit_code == 0, result.output
    assert "exported 90 events" in result.output  # the live tree, signed before it is exported
    assert third_party_root(current)[0] == json.loads((current / "checkpoint.json").read_text())["tree_size"] == 90
    out = tmp_path / "export"
    result = CliRunner().invoke(ledger_cli, ["export", "--db", db, "--out", str(out), "--at-size", "86"])
    assert result.exit_code == 0, result.output
    assert f"exported {cp.tree_size} events" in result.output and "older checkpoint" in result.output

    checkpoint = json.loads((out / "checkpoint.json").read_text())
    assert third_party_root(out) == (checkpoint["tree_size"], checkpoint["root_hash"]) == (86, cp.root_hash.hex())
    public = load_pem_public_key((out / "public_key.pem").read_bytes())
    public.verify(base64.b64decode(checkpoint["signature"]), checkpoint["signed_body"].encode())  # type: ignore[union-attr,call-arg]
    assert checkpoint["signed_body"].splitlines()[1:] == [
        "86", base64.b64encode(bytes.fromhex(checkpoint["root_hash"])).decode()]
    assert (out / "VERIFY.md").read_text().startswith("# Verifying a safemed ledger export")
    manifest = json.loads((out / "manifest.json").read_text())
    digests = {entry["path"]: entry["sha256"] for entry in manifest["outputs"]}
    assert digests["events.jsonl"] == hashlib.sha256((out / "events.jsonl").read_bytes()).hexdigest()

    events = [LedgerEvent.from_document(json.loads(line)) for line in (out / "events.jsonl").open()]
    assert all_states(events)["life"].status == "retained"


def test_export_refuses_a_tampered_ledger(tmp_path: Path, key_file: Path) -> None:
    db = str(tmp_path / "l.db")
    with Ledger.open(db, keys=load_keys(key_file)) as ledger:
        ledger.append(ev for i in range(3) for ev in item_events(i))
        ledger.checkpoint()
    engine = make_engine(db)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE ledger_events SET canonical = replace(canonical, 'fine', 'FINE') "
                             "WHERE seq = 3")
    engine.dispose()
    with Ledger.open(db, keys=load_keys(key_file)) as ledger, pytest.raises(LedgerTamperedError):
        export_ledger(ledger, tmp_path / "out")
    assert not (tmp_path / "out" / "events.jsonl").exists()

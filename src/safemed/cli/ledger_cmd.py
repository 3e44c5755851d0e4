"""``safemed ledger``: create, inspect, verify, prove and export the curation ledger.

The ledger (``safemed.ledger``) holds every CTS curation event (paper step "clinical trust
signals": traces, physician reviews and edits, escalations, adjudications, retention) as a leaf
of an RFC 6962 Merkle tree with signed checkpoints. These commands are what a governance board
or an outside auditor runs::

    safemed ledger init                      # database + key file (~/.config/safemed/ledger.key)
    safemed ledger stats
    safemed ledger root --sign               # sign a checkpoint of everything appended so far
    safemed ledger verify                    # exit 4 and name the first tampered event
    safemed ledger proof ITEM_ID             # inclusion proofs + a consistency proof (JSON)
    safemed ledger export --out DIR          # the current tree, signed: events + checkpoint,
                                             # checkable with SHA-256 alone
    safemed ledger reindex                   # rebuild the curation read model from the events

``--db`` takes a SQLite path or a ``postgresql://`` URL (default ``$SAFEMED_DB`` or
``./safemed.db``); ``--key`` the key file (default ``$SAFEMED_LEDGER_KEY`` or
``~/.config/safemed/ledger.key``).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from safemed.cli.common import ErrorPrintingGroup, db_option, key_option, load_key_option
from safemed.ledger import db
from safemed.ledger.errors import LedgerTamperedError
from safemed.ledger.export import export_ledger
from safemed.ledger.keys import LedgerKeys, load_or_create_keys, load_public_key
from safemed.ledger.store import Ledger


def _open(db_url: str | None, keys: LedgerKeys | None, create: bool = False) -> Ledger:
    return Ledger.open(db_url, keys=keys, create=create)


@click.group("ledger", cls=ErrorPrintingGroup)
def ledger() -> None:
    """The tamper-evident curation ledger (RFC 6962 Merkle log with signed checkpoints)."""


@ledger.command("init")
@db_option
@key_option
def init_cmd(db_url: str | None, key_path: Path | None) -> None:
    """Create the ledger database and, if absent, the key file; sign the first checkpoint."""
    keys, created = load_or_create_keys(key_path)
    with _open(db_url, keys, create=True) as led:
        led.check_key()
        cp = led.checkpoint()
        click.echo(f"ledger: {db.normalise_url(db_url or db.default_db_url())}")
        click.echo(f"origin: {led.origin}")
        click.echo(f"key file: {keys.path} ({'created' if created else 'existing'}), key id {keys.key_id}")
        click.echo(f"checkpoint: size {cp.tree_size}, root {cp.root_hash.hex()}")


@ledger.command("stats")
@db_option
def stats_cmd(db_url: str | None) -> None:
    """Event counts by type, items, tree size and checkpoints."""
    with _open(db_url, None) as led:
        st = led.stats()
    click.echo(f"origin: {st.origin}")
    click.echo(f"events: {st.tree_size}")
    click.echo(f"items: {st.items}")
    for name, count in st.by_type.items():
        click.echo(f"  {name}: {count}")
    latest = "none" if st.latest_checkpoint_size is None else f"size {st.latest_checkpoint_size}"
    click.echo(f"checkpoints: {st.checkpoints} (latest: {latest})")


@ledger.command("root")
@db_option
@key_option
@click.option("--sign", is_flag=True, help="sign and store a checkpoint of the current tree")
def root_cmd(db_url: str | None, key_path: Path | None, sign: bool) -> None:
    """Print the current tree size and root hash, and the latest signed checkpoint."""
    with _open(db_url, load_key_option(key_path, required=sign)) as led:
        if sign:
            led.checkpoint()
        size = led.size()
        click.echo(f"tree size: {size}")
        click.echo(f"root: {led.root(size).hex()}")
        cp = led.latest_checkpoint()
    if cp is None:
        click.echo("checkpoint: none (sign one with --sign)")
    else:
        click.echo(f"checkpoint: size {cp.tree_size}, root {cp.root_hash.hex()}, key {cp.key_id}, "
                   f"{cp.created_at}")


@ledger.command("verify")
@db_option
@key_option
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="check signatures with this Ed25519 public key (PEM or hex) instead of the key file")
def verify_cmd(db_url: str | None, key_path: Path | None, public_key: Path | None) -> None:
    """Recompute every leaf hash and the root; exit 4 naming the first changed, removed or
    reordered event."""
    pub = load_public_key(public_key) if public_key else None
    with _open(db_url, None if pub else load_key_option(key_path, required=False)) as led:
        report = led.verify(pub)
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        raise LedgerTamperedError(f"ledger verification failed: {report.first_problem}")


@ledger.command("proof")
@db_option
@click.argument("item_id")
@click.option("--old-size", type=int, default=None,
              help="consistency proof from this size [default: the first checkpoint covering the item]")
@click.option("--new-size", type=int, default=None, help="... to this size [default: the latest checkpoint]")
def proof_cmd(db_url: str | None, item_id: str, old_size: int | None, new_size: int | None) -> None:
    """Inclusion proofs of all events of ITEM_ID and a consistency proof between two checkpoints
    (JSON; every proof is checked before it is printed)."""
    from safemed.ledger.proofs import item_proofs

    with _open(db_url, None) as led:
        bundle = item_proofs(led, item_id, old_size, new_size)
    click.echo(json.dumps(bundle, indent=2))
    if not bundle["all_verified"]:
        raise LedgerTamperedError("a proof did not verify against the signed root; run `safemed ledger verify`")


@ledger.command("export")
@db_option
@key_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="folder to write events.jsonl, checkpoint.json, the public key and VERIFY.md into")
@click.option("--at-size", type=click.IntRange(0), default=None, metavar="N",
              help="export the older signed checkpoint of N events instead of the current tree")
@click.option("--sign", is_flag=True, hidden=True, help="(the default now: the current tree is always signed)")
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="the Ed25519 public key to ship (PEM or hex) [default: from the key file]")
def export_cmd(db_url: str | None, key_path: Path | None, out: Path, at_size: int | None, sign: bool,
               public_key: Path | None) -> None:
    """Write the current tree (signing a checkpoint of it first) as canonical JSONL plus the
    signed checkpoint; without the key, refuse rather than export an older one."""
    pub = load_public_key(public_key) if public_key else None
    with _open(db_url, load_key_option(key_path, required=sign)) as led:
        result = export_ledger(led, out, pub, at_size=at_size)
        size = led.size()
    click.echo(f"exported {result.tree_size} events, root {result.root_hash.hex()}, to {result.folder}")
    if result.tree_size < size:
        click.echo(f"note: the ledger has {size} events; this export is the older checkpoint you asked for", err=True)


@ledger.command("reindex")
@db_option
def reindex_cmd(db_url: str | None) -> None:
    """Rebuild the curation read model (item states, queues) from the events, in one transaction."""
    with _open(db_url, None) as led:
        n = led.reindex()
        size = led.size()
    click.echo(f"rebuilt the curation read model: {n} items from {size} events")

"""tracker import | export | verify | rebuild | demo | erase"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask.cli import with_appcontext

from tracker.auth.users import SYSTEM, Actor
from tracker.cli import key_checked, runtime
from tracker.services import checkpoints, integrity, transfer
from tracker.services import demo as demo_service
from tracker.services.erasure import AlreadyErased, ErasureIncomplete, erase_cases
from tracker.services.runtime import NotFound

OPERATOR = Actor("operator", "admin")


@contextmanager
def progress(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal; silent otherwise, so scripts and logs stay clean."""
    if not sys.stderr.isatty() or total <= 0:
        yield lambda _n: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


def _case_arg(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound(value) from None


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
@key_checked
def import_(file: Path) -> None:
    """Import cases from a JSON Lines FILE: all of it, or nothing."""
    try:
        with open(file, encoding="utf-8") as fh, progress(os.path.getsize(file), "importing") as step:
            cases, events = transfer.import_file(runtime(), fh, step)
    except UnicodeDecodeError:
        raise click.ClickException(f"{file}: not UTF-8 text; nothing was imported") from None
    except transfer.ImportFailed as exc:
        raise click.ClickException(f"{file}: {exc}; nothing was imported") from None
    click.echo(f"imported {cases} cases with {events} events")


@click.command("export")
@click.argument("case_ids", nargs=-1)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
@with_appcontext
def export(case_ids: tuple[str, ...], output: Path | None) -> None:
    """Export cases (all, or CASE_IDS) as JSON Lines in the import format, sensitive fields included."""
    ids = [_case_arg(c) for c in case_ids] or None
    if output is None:
        transfer.export_cases(runtime(), OPERATOR, ids, sys.stdout)
        return
    total = len(ids) if ids else integrity.case_count(runtime())
    tmp = output.with_name(output.name + ".part")
    try:
        # A leftover .part would keep its own, maybe looser, mode: remove it and make a new file.
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:  # a missing folder, no permission, a full disk ...
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh, progress(total, "exporting") as step:
            count = transfer.export_cases(runtime(), OPERATOR, ids, fh, step)
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
    click.echo(f"exported {count} cases to {output}", err=False)


@click.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Compare the store with this checkpoint file (a witness's copy) instead.",
)
@click.option("--public-key", help="The public key (hex) the checkpoint must be signed with.")
@with_appcontext
def verify(checkpoint_file: Path | None, public_key: str | None) -> None:
    """Check every case's hash chain, version sequence and keyed seals, and the store against its latest
    checkpoint (or against a witness's checkpoint file); exit 1 naming each broken case."""
    if checkpoint_file is not None:
        try:
            broken = integrity.verify_against(
                runtime(), checkpoint_file.read_text(encoding="utf-8", errors="replace"), public_key
            )
        except checkpoints.CheckpointError as exc:
            raise click.ClickException(f"{checkpoint_file}: {exc}") from None
        for b in broken:
            click.echo(f"case {b.case_id}: {b.problem}", err=True)
        if broken:
            raise SystemExit(1)
        click.echo(f"the store still holds everything the checkpoint {checkpoint_file} saw")
        return
    with progress(integrity.case_count(runtime()), "verifying") as step:
        checked, broken = integrity.verify(runtime(), step)
    for b in broken:
        click.echo(f"{'the store' if b.case_id == 'store' else 'case ' + b.case_id}: {b.problem}", err=True)
    if broken:
        raise SystemExit(1)
    click.echo(f"{checked} cases verified: every chain is intact, every keyed seal holds")


@click.command("seal")
@with_appcontext
@key_checked
def seal() -> None:
    """Seal a database from before keyed seals, once: check every plain chain, then seal it under the
    chain key of the installation key (docs/security.md)."""
    try:
        sealed = integrity.seal_store(runtime())
    except integrity.SealRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"sealed {sealed} events under key {runtime().kek_id}; `tracker verify` checks them from now on"
    )


@click.command("rebuild")
@with_appcontext
@key_checked
def rebuild() -> None:
    """Rebuild every read model from the events."""
    with progress(integrity.case_count(runtime()), "rebuilding") as step:
        count = integrity.rebuild(runtime(), step)
    click.echo(f"rebuilt {count} cases")


@click.command("demo")
@click.option(
    "--password", default="demo-password-2024", show_default=True, help="Password of every demo user."
)
@click.option(
    "--force",
    is_flag=True,
    help="Load the demo even into a database with real users or cases (its users' password is public).",
)
@with_appcontext
@key_checked
def demo(password: str, force: bool) -> None:
    """Load the four composite clients and the demo users (idempotent); refused on real data."""
    created, cases = demo_service.load_demo(runtime(), password, force=force)
    click.echo(
        f"demo users: {', '.join(demo_service.DEMO_USERS)} (created now: {', '.join(created) or 'none'})"
    )
    click.echo(f"demo password: {password}")
    click.echo(f"demo cases imported: {cases}")


@click.command("erase")
@click.argument("case_ids", metavar="CASE_ID...", nargs=-1, required=True)
@click.option("--reason", required=True, help="Why the personal data is erased (kept in the history).")
@with_appcontext
@key_checked
def erase(case_ids: tuple[str, ...], reason: str) -> None:
    """Destroy the data key of each CASE_ID (all or none): their sensitive fields are unreadable for good."""
    ids = [_case_arg(c) for c in case_ids]
    try:
        done = erase_cases(runtime(), SYSTEM, ids, reason)
    except AlreadyErased as exc:
        raise click.ClickException(f"{exc}; nothing was changed") from None
    except ErasureIncomplete as exc:
        for case_id, version in exc.versions.items():
            click.echo(f"personal data of case {case_id} erased (version {version})")
        raise click.ClickException(str(exc)) from None
    for case_id, version in done.versions.items():
        click.echo(f"personal data of case {case_id} erased (version {version})")
    for note in done.notes:
        click.echo(f"to finish: {note}")
    click.echo(
        "backups made before this erasure no longer open these cases' keys; keep only the current "
        f"keyring ({runtime().keyring_file.path}) in your safe copy (docs/keys.md)"
    )


@click.command("dossier")
@click.argument("case_id")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="the PDF file to write",
)
@click.option("--lang", type=click.Choice(["en", "ru"]), default="en", show_default=True)
@click.option("--legal-name", is_flag=True, help="print the person's legal name (else the pseudonym only)")
@click.option("--list-corrections", is_flag=True, help="list every correction and retraction at the end")
@with_appcontext
def dossier(case_id: str, output: Path, lang: str, legal_name: bool, list_corrections: bool) -> None:
    """Write the chronology of a case as a PDF a lawyer can file."""
    from tracker.dossier.pdf import render
    from tracker.services.dossier import dossier as read_dossier

    found = read_dossier(runtime(), OPERATOR, _case_arg(case_id), legal_name=legal_name, via="cli")
    pdf = render(found, lang, list_corrections)
    try:
        output.write_bytes(pdf)
    except OSError as exc:
        raise click.ClickException(f"{output}: {exc.strerror}") from None
    click.echo(f"wrote {output}: {len(found.facts)} facts, head hash {found.head_hash}")


@click.group("checkpoint", invoke_without_command=True)
@click.pass_context
@with_appcontext
def checkpoint(ctx: click.Context) -> None:
    """Sign a checkpoint of the whole store now, store it and mail it to CHECKPOINT_WITNESSES."""
    if ctx.invoked_subcommand is not None:
        return
    rt = runtime()
    made = checkpoints.make(rt)
    sent = checkpoints.mail(rt, made)
    content = made.content
    click.echo(f"checkpoint {made.id}: {content['cases']} cases, Merkle root {content['root']}")
    click.echo(f"digest {made.digest}")
    click.echo(f"public key {made.public_key}")
    click.echo(
        f"mailed to {sent} witnesses" if sent else "mailed to no witness (CHECKPOINT_WITNESSES, SMTP_URL)"
    )


@checkpoint.command("export")
@click.option(
    "--id", "checkpoint_id", type=click.IntRange(1), help="A stored checkpoint; default the latest."
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Default: standard output."
)
@with_appcontext
def checkpoint_export(checkpoint_id: int | None, output: Path | None) -> None:
    """Write a stored checkpoint as the file a witness keeps."""
    found = checkpoints.get(runtime(), checkpoint_id)
    if found is None:
        raise click.ClickException("no such checkpoint: make one with `tracker checkpoint`")
    text = json.dumps(found.export(), indent=1) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"checkpoint {found.id} written to {output}", err=True)


@checkpoint.command("key")
@with_appcontext
def checkpoint_key() -> None:
    """Print the public key (hex) that checks this installation's checkpoints."""
    click.echo(checkpoints.public_key_hex(runtime()))


COMMANDS = [import_, export, verify, seal, checkpoint, rebuild, demo, erase, dossier]

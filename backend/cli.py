"""The `carnet` command: serve, migrate, referential check/list, and maintenance."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from backend import cli_ops
from backend import settings as settings_module
from backend.domain.referentials import ReferentialError, Registry, check_files


def load_settings(*, existing: bool = False) -> settings_module.Settings:
    """The settings, with the audit chain keyed by their secret (every command that writes or
    checks audit events goes through here). `existing`: a command that reads data already
    there refuses to start where there is none (and creates nothing)."""
    from backend import audit
    from backend.serving import CommandError

    if existing and (why := settings_module.missing_data()):
        raise CommandError(why)
    settings = settings_module.from_env()
    audit.use_key(settings.secret_key)
    return settings


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from backend.app import create_app
    from backend.db import migrate
    from backend.logs import log_config
    from backend.serving import (
        check_port,
        json_log_config,
        limit_malloc_arenas,
        loud_demo_warning,
        prepare_multiprocess_metrics,
    )

    limit_malloc_arenas()
    settings = load_settings()
    workers = args.workers or settings.workers
    forwarded = args.forwarded_allow_ips or settings.forwarded_allow_ips
    if workers > 1 and not settings.secret_key_configured:
        print("carnet serve: several workers need one shared secret: set CARNET_SECRET_KEY "
              "(the same value for every process; keep it with the backups) and start again.",
              file=sys.stderr)
        return 2
    check_port(args.host, args.port)  # before anything is printed or written
    app = create_app(settings)  # a faulty referential stops here, before the banner
    if not args.no_migrate:
        asyncio.run(migrate(settings.database_url))
    if args.demo:
        from backend.demo import print_demo, seed_demo

        accounts = asyncio.run(seed_demo(settings))
        print_demo(settings, accounts, f"http://{args.host}:{args.port}/")
        loud_demo_warning(args.host, settings)
    # Secret links (invitations, resets) never reach a log line: backend/logs.py.
    config = log_config(settings.log_level)
    if settings.log_format == "json":
        config = json_log_config(config)
    options = {"host": args.host, "port": args.port, "log_level": settings.log_level.lower(),
               "log_config": config, "proxy_headers": True, "forwarded_allow_ips": forwarded,
               "server_header": False}
    if settings.metrics and workers > 1:  # /metrics sums the workers' files
        prepare_multiprocess_metrics(settings.data_dir / "prometheus")
    if workers > 1:  # each process builds its app from the same environment
        uvicorn.run("backend.serving:app_from_env", factory=True, workers=workers, **options)
    else:
        uvicorn.run(app, **options)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from backend.db import migrate

    settings = load_settings()
    asyncio.run(migrate(settings.database_url))
    print(f"migrations applied to {redact(settings.database_url)}")
    return 0


def redact(url: str) -> str:
    """Never print a database password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"


def cmd_referential_check(args: argparse.Namespace) -> int:
    from backend.domain.referentials import packaged_assessments_dir

    files = [p for arg in args.files for p in (
        sorted(q for q in Path(arg).iterdir() if q.suffix in (".yaml", ".yml") and q.is_file())
        if Path(arg).is_dir() else [Path(arg)])]
    if not files:
        print("no referential file (*.yaml, *.yml) in " + ", ".join(args.files), file=sys.stderr)
        return 1
    # Against the packaged referentials too: a version they hold must not differ here.
    mine = {p.resolve() for p in files}
    faults = [f for f in check_files([packaged_assessments_dir(), *files])
              if Path(f.file).resolve() in mine]
    for fault in faults:
        print(fault)
    todos = sum("is still to write" in f.message for f in faults)
    if todos:
        print(f"{todos} item(s) still marked TODO (drafts from the register: write them)")
    if not faults:
        print(f"{len(files)} file(s) OK")
    return 1 if faults else 0


def cmd_referential_list(args: argparse.Namespace) -> int:
    from backend.app import load_registry

    try:
        registry: Registry = load_registry(settings_module.from_env(create=False))
    except ReferentialError as exc:
        for fault in exc.faults:
            print(fault, file=sys.stderr)
        return 1
    for ref in registry.all():
        print(f"{ref.code}\t{ref.version}\t{len(ref.blocks)} blocks\t{ref.title}\t{ref.source}")
    return 0


async def register_import_report(raw, total: int, *, quiet: bool = False) -> tuple[int, list[str]]:
    """(exit code, lines): stream a France compétences export (RNCP or RS XML, the binary file
    `raw` of `total` bytes) into the register tables, with a progress bar over the bytes.
    Needs the ORM open."""
    import time

    from lxml import etree

    from backend.domain import certifications
    from backend.domain.register import CountingReader, iter_fiches

    started, reader = time.monotonic(), CountingReader(raw)

    def progress(count) -> None:
        if quiet:
            return
        width, done = 30, reader.done
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done / 1e6:,.0f}/"
                         f"{total / 1e6:,.0f} MB, {count.read} fiches "
                         f"({count.read / max(time.monotonic() - started, 1e-6):,.0f}/s)")
        sys.stderr.flush()

    try:
        count = await certifications.import_fiches(iter_fiches(reader), progress)
    except etree.XMLSyntaxError as exc:
        return 1, [f"invalid XML: {exc}"]
    finally:
        if not quiet:
            sys.stderr.write("\n")
    return 0, [f"{count.read} fiches read: {count.added} added, {count.updated} updated, "
               f"{count.unchanged} unchanged, {count.blocks} blocks written; "
               f"{await certifications.count()} certifications in the register"]


def cmd_register_import(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        raw = open(args.file, "rb")  # noqa: SIM115 (read lazily by the import, closed below)
    except OSError as exc:
        print(f"{args.file}: cannot read: {exc.strerror}", file=sys.stderr)
        return 1
    with raw:
        total = Path(args.file).stat().st_size
        return _print_report(asyncio.run(_with_orm(settings.database_url, lambda: (
            register_import_report(raw, total, quiet=args.quiet)))))


def cmd_referential_draft(args: argparse.Namespace) -> int:
    """Write a draft referential from an imported certification (criteria left as TODO)."""
    from datetime import date

    from backend.domain import certifications
    from backend.errors import NotFound

    settings = load_settings()
    try:
        draft = asyncio.run(_with_orm(settings.database_url, lambda: certifications.draft(
            args.number, date.today(), args.version)))
    except NotFound:
        print(f"{args.number}: not in the imported register (run `carnet register import "
              "FILE` first)", file=sys.stderr)
        return 1
    dest = Path(args.output or f"{draft.code}-{draft.version}.yaml")
    if dest.exists() and not args.force:
        print(f"{dest}: already exists (use --force to replace it)", file=sys.stderr)
        return 1
    dest.write_text(draft.text, encoding="utf-8")
    print(f"wrote {dest}: {draft.blocks} blocks, {draft.competencies} competencies, "
          f"{draft.todos} items marked TODO to write")
    print(f"`carnet referential check {dest}` lists what is left")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    """Synthetic volume for benchmarks (bulk inserts, progress bar on stderr)."""
    import json

    from backend.app import load_registry
    from backend.db import migrate
    from backend.seed import seed

    settings = load_settings()
    code, _, version = args.referential.partition("/")
    registry = load_registry(settings)
    ref = registry.find(code, version)
    if ref is None:
        known = ", ".join(f"{r.code}/{r.version}" for r in registry.all())
        print(f"carnet seed: no referential {args.referential!r} (CODE/VERSION); loaded: "
              f"{known}", file=sys.stderr)
        return 1
    asyncio.run(migrate(settings.database_url))
    result = asyncio.run(seed(settings, ref, args.candidates, args.observations,
                              settings.demo_password))
    print(json.dumps(result))
    return 0


async def _with_orm(database_url: str, work):
    """Run `work()` with the ORM open on `database_url` (the commands below are one-shot)."""
    from tortoise import Tortoise

    from backend.db import tortoise_config

    await Tortoise.init(config=tortoise_config(database_url))
    try:
        return await work()
    finally:
        await Tortoise.close_connections()


async def audit_verify_report(anchors: list | None = None) -> tuple[int, list[str]]:
    """(exit code, lines): walk the audit chain, name the first altered, missing or
    reordered event, and check it still holds each anchored head. Needs the ORM open."""
    from backend import audit
    from backend.domain.dossiers import check_all_seals
    from backend.models import AuditEvent, AuditHead

    fault = await audit.verify_anchors(anchors or [])
    count = await AuditEvent.all().count()
    if fault is None:
        head = await AuditHead.get_or_none(id=audit.HEAD_ID)
        last = head.last_hash[:16] if head else "-"
        held = f", {len(anchors)} anchor(s) held" if anchors else ""
        sealed = await check_all_seals()
        if sealed:  # the chain holds, but rows it vouches for were changed
            return 1, [f"audit chain OK: {count} events, but {len(sealed)} sealed record "
                       "difference(s)", *(f"  {p}" for p in sealed)]
        return 0, [f"audit chain OK: {count} events, last hash {last}…{held}"]
    lines = [f"audit chain BROKEN: {fault.message}"]
    ids = await AuditEvent.all().order_by("id").values_list("id", flat=True)
    if fault.event_id in ids:
        at = ids.index(fault.event_id)
        before = ids[at - 1] if at else 0
        if fault.event_id - before > 1:  # a hint only: rolled-back inserts also skip ids
            lines.append(f"ids jump from {before} to {fault.event_id}: event "
                         f"{before + 1} may have been deleted")
    return 1, lines


async def audit_anchor_report() -> tuple[int, list[str]]:
    """(exit code, lines): the anchor line of the current head, if the chain verifies."""
    from datetime import UTC, datetime

    from backend import audit
    from backend.domain.audit import anchor_line

    anchor = await audit.current_anchor(datetime.now(UTC))
    if anchor is None:
        code, lines = await audit_verify_report()
        return 1, ["no anchor: the chain does not verify", *lines]
    return 0, [anchor_line(anchor)]


def read_anchors(value: str) -> list:
    """Anchors from one anchor line, or from a file of them (one per line, e.g. a daily log
    kept outside the server). ValueError naming the faulty line."""
    from backend.domain.audit import parse_anchor

    if value.lstrip().startswith("{"):
        return [parse_anchor(value)]
    path = Path(value)
    if not path.is_file():
        raise ValueError(f"{value}: neither an anchor line nor a readable file")
    anchors = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                anchors.append(parse_anchor(line))
            except ValueError as exc:
                raise ValueError(f"{value}:{number}: {exc}") from None
    if not anchors:
        raise ValueError(f"{value}: no anchor line")
    return anchors


async def dossier_verify_report(dossier_id: int, registry: Registry,
                                store) -> tuple[int, list[str]]:
    """(exit code, lines): recompute a dossier's manifest from the stored rows and photo
    files. Needs the ORM open."""
    from backend.domain.dossiers import verify_dossier
    from backend.models import Dossier

    problems = await verify_dossier(dossier_id, registry, store)
    if problems:
        return 1, [f"dossier {dossier_id}: {len(problems)} difference(s)",
                   *(f"  {p}" for p in problems)]
    dossier = await Dossier.get(id=dossier_id)
    manifest = dossier.manifest
    return 0, [f"dossier {dossier_id} verifies: manifest {dossier.manifest_sha256}, "
               f"{len(manifest.get('observations', []))} observations, "
               f"{len(manifest.get('photos', []))} photos, files intact"]


def _print_report(result: tuple[int, list[str]]) -> int:
    code, lines = result
    for line in lines:
        print(line)
    return code


def cmd_audit_verify(args: argparse.Namespace) -> int:
    try:
        anchors = read_anchors(args.anchor) if args.anchor else []
    except ValueError as exc:
        print(f"audit verify: {exc}", file=sys.stderr)
        return 2
    settings = load_settings(existing=True)
    return _print_report(asyncio.run(_with_orm(settings.database_url,
                                               lambda: audit_verify_report(anchors))))


def cmd_audit_anchor(args: argparse.Namespace) -> int:
    settings = load_settings(existing=True)
    return _print_report(asyncio.run(_with_orm(settings.database_url, audit_anchor_report)))


def cmd_dossier_verify(args: argparse.Namespace) -> int:
    from backend.app import load_registry
    from backend.storage import open_store

    settings = load_settings(existing=True)
    registry, store = load_registry(settings), open_store(settings)
    return _print_report(asyncio.run(_with_orm(
        settings.database_url, lambda: dossier_verify_report(args.id, registry, store))))


async def gc_report(store, *, dry_run: bool, uploads=None) -> tuple[int, list[str]]:
    """(exit code, lines): unreferenced photo files, stale `.tmp-*` files and resumable
    uploads untouched for days (`uploads`, an UploadArea), removed unless `dry_run`.
    Needs the ORM open."""
    from backend.domain.garbage import collect
    from backend.uploads import stale_before

    found = await collect(store, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    lines = [*(f"{verb} orphan {sha} ({size} bytes)" for sha, size in found.orphans),
             *(f"{verb} temp {path} ({size} bytes)" for path, size in found.temps)]
    if uploads is not None:
        stale = uploads.remove_stale(stale_before(), dry_run=dry_run)
        lines += [f"{verb} upload {path} ({size} bytes)" for path, size in stale]
        lines.append(f"{verb} {len(stale)} stale upload file(s)")
    lines.append(f"{verb} {len(found.orphans)} orphan file(s), {len(found.temps)} temp "
                 f"file(s), {found.bytes} bytes")
    return 0, lines


def cmd_gc(args: argparse.Namespace) -> int:
    from backend.storage import open_store

    settings = load_settings(existing=True)
    store = open_store(settings)
    from backend.uploads import upload_area

    uploads = upload_area(store, settings)
    return _print_report(asyncio.run(_with_orm(
        settings.database_url, lambda: gc_report(store, dry_run=args.dry_run, uploads=uploads))))


async def person_by_email(email: str):
    from backend.domain.accounts import normalise_email
    from backend.models import Person

    return await Person.get_or_none(email=normalise_email(email))


async def person_export_report(email: str, dest: str, store) -> tuple[int, list[str]]:
    """(exit code, lines): write the person's personal-data ZIP to `dest`. Needs the ORM."""
    from datetime import date

    from backend.domain import personal_data

    person = await person_by_email(email)
    if person is None:
        return 1, [f"no person with the e-mail {email}"]
    path = await personal_data.export(person, actor_id=None, store=store,
                                      day=date.today().isoformat(), dest=dest)
    return 0, [f"person {person.id}: {path.stat().st_size} bytes written to {path}"]


async def reset_link_report(email: str, settings) -> tuple[int, list[str]]:
    """(exit code, lines): a one-hour, single-use password reset link, for servers
    without SMTP (the operator hands it to the person). Needs the ORM open."""
    from backend.auth import utcnow
    from backend.domain import passwords

    person = await person_by_email(email)
    if person is None or not person.is_active:
        return 1, [f"no active person with the e-mail {email}"]
    token = await passwords.issue_token(person, "reset", utcnow(), settings.secret_key,
                                        cooldown=False)
    base = settings.public_url or "http://127.0.0.1:8000"
    return 0, [f"{base}/password/reset/{token}",
               "valid for one hour, once; give it to the person only"]


def cmd_person_reset_link(args: argparse.Namespace) -> int:
    settings = load_settings(existing=True)
    return _print_report(asyncio.run(_with_orm(
        settings.database_url, lambda: reset_link_report(args.email, settings))))


def cmd_person_export(args: argparse.Namespace) -> int:
    from backend.storage import open_store

    settings = load_settings(existing=True)
    store = open_store(settings)
    return _print_report(asyncio.run(_with_orm(
        settings.database_url, lambda: person_export_report(args.email, args.dest, store))))


async def purge_report(settings, registry, store, *, dry_run: bool,
                       now=None) -> tuple[int, list[str]]:
    """(exit code, lines): apply the retention settings; counts and bytes per category.
    Needs the ORM open."""
    from datetime import UTC, datetime

    from backend.domain import retention

    found = await retention.purge(registry, retention.Terms.of(settings), store,
                                  now=now or datetime.now(UTC), dry_run=dry_run)
    verb = "would purge" if dry_run else "purged"
    from backend.domain.cqps import purge_contacts

    contacts = await purge_contacts(now or datetime.now(UTC), dry_run=dry_run)
    return 0, [*(f"{verb} {name}: {c.rows} row(s), {c.files} file(s), {c.bytes} bytes"
                 for name, c in found.categories.items()),
               f"{verb} catalogue messages: {contacts} row(s), 0 file(s), 0 bytes"]


def cmd_purge(args: argparse.Namespace) -> int:
    from backend.app import load_registry
    from backend.storage import open_store

    settings = load_settings(existing=True)
    registry, store = load_registry(settings), open_store(settings)
    return _print_report(asyncio.run(_with_orm(settings.database_url, lambda: purge_report(
        settings, registry, store, dry_run=args.dry_run))))


async def person_erase_report(email: str, settings, store, *,
                              dry_run: bool) -> tuple[int, list[str]]:
    """(exit code, lines): what erasing the person deletes and keeps, and why; done unless
    `dry_run`. Needs the ORM open."""
    from datetime import UTC, datetime

    from backend.domain import erasure, retention
    from backend.errors import Conflict

    person = await person_by_email(email)
    if person is None:
        return 1, [f"no person with the e-mail {email}"]
    args = {"secret_key": settings.secret_key, "terms": retention.Terms.of(settings),
            "now": datetime.now(UTC)}
    try:
        found = await (erasure.plan(person, **args) if dry_run else
                       erasure.erase(person, actor_id=None, store=store, **args))
    except Conflict as exc:
        return 1, [exc.message]
    lines = [f"person {person.id} -> {found.pseudonym}", *(f"blocked: {r}" for r in found.blocked)]
    lines += [f"{'would delete' if dry_run else 'deleted'}: {g.what}: {g.count} ({g.why})"
              for g in found.goes]
    lines += [f"kept: {k.what}: {k.count} ({k.why})" for k in found.stays]
    return (1 if found.blocked else 0), lines


def cmd_person_erase(args: argparse.Namespace) -> int:
    from backend.storage import open_store

    settings = load_settings(existing=True)
    store = open_store(settings)
    return _print_report(asyncio.run(_with_orm(settings.database_url, lambda: person_erase_report(
        args.email, settings, store, dry_run=args.dry_run))))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carnet", description="Carnet: CQP evidence and juries")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true", help="seed the demo data (idempotent)")
    serve.add_argument("--no-migrate", action="store_true",
                       help="do not apply migrations before starting")
    serve.add_argument("--workers", type=int, default=0,
                       help="server processes (default CARNET_WORKERS, 1); more than one "
                       "needs CARNET_SECRET_KEY")
    serve.add_argument("--forwarded-allow-ips", metavar="IPS",
                       help="the TLS proxies whose X-Forwarded-Proto is believed (default "
                       "CARNET_FORWARDED_ALLOW_IPS, 127.0.0.1)")
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply migrations").set_defaults(func=cmd_migrate)
    cli_ops.register(sub)  # init, branch create, admin invite

    seed = sub.add_parser("seed", help="fill the database with synthetic candidates (benchmarks)")
    seed.add_argument("--candidates", type=int, default=100)
    seed.add_argument("--observations", type=int, default=100, help="per candidate")
    seed.add_argument("--referential", default="CQP-FIOMB/2026-1", help="CODE/VERSION")
    seed.set_defaults(func=cmd_seed)

    ref = sub.add_parser("referential", help="referential files").add_subparsers(
        dest="action", required=True)
    check = ref.add_parser("check", help="validate files; print file:line: message")
    check.add_argument("files", nargs="+")
    check.set_defaults(func=cmd_referential_check)
    ref.add_parser("list", help="list loaded referentials").set_defaults(
        func=cmd_referential_list)
    draft = ref.add_parser("draft", help="write a draft referential from a certification of "
                           "the imported register (criteria left as TODO)")
    draft.add_argument("number", help="e.g. RNCP35809 or RS5678")
    draft.add_argument("--output", "-o", help="file to write (default CODE-VERSION.yaml)")
    draft.add_argument("--version", help="version of the draft (default YEAR-1)")
    draft.add_argument("--force", action="store_true", help="replace an existing file")
    draft.set_defaults(func=cmd_referential_draft)

    register = sub.add_parser("register", help="the national register (RNCP, RS)").add_subparsers(
        dest="action", required=True)
    register_import = register.add_parser("import", help="read a France compétences XML export "
                                          "(streamed; rerunnable: updates, no duplicates)")
    register_import.add_argument("file")
    register_import.add_argument("--quiet", action="store_true", help="no progress bar")
    register_import.set_defaults(func=cmd_register_import)

    audit_cmd = sub.add_parser("audit", help="the audit chain").add_subparsers(
        dest="action", required=True)
    audit_verify = audit_cmd.add_parser("verify", help="walk the chain; exit 1 naming the first "
                                        "altered, missing or reordered event")
    audit_verify.add_argument("--anchor", metavar="LINE_OR_FILE",
                              help="an anchor line printed by `carnet audit anchor`, or a file "
                              "of them: the chain must still hold each head at its count")
    audit_verify.set_defaults(func=cmd_audit_verify)
    audit_cmd.add_parser("anchor", help="print the current head (count, hash, time) as one "
                         "JSON line to keep outside the server").set_defaults(
        func=cmd_audit_anchor)
    dossier_cmd = sub.add_parser("dossier", help="jury dossiers").add_subparsers(
        dest="action", required=True)
    verify = dossier_cmd.add_parser("verify", help="recompute a dossier from the stored rows "
                                    "and photo files; exit 1 on any difference")
    verify.add_argument("id", type=int)
    verify.set_defaults(func=cmd_dossier_verify)
    gc = sub.add_parser("gc", help="remove photo files no row names and stale .tmp-* files")
    gc.add_argument("--dry-run", action="store_true", help="list them, remove nothing")
    gc.set_defaults(func=cmd_gc)
    purge = sub.add_parser("purge", help="apply the retention settings (schedule it daily)")
    purge.add_argument("--dry-run", action="store_true",
                       help="print counts and bytes per category, remove nothing")
    purge.set_defaults(func=cmd_purge)
    person_cmd = sub.add_parser("person", help="a person's data").add_subparsers(
        dest="action", required=True)
    export = person_cmd.add_parser("export", help="write everything held about a person "
                                   "to a ZIP (audited)")
    export.add_argument("email")
    export.add_argument("dest")
    export.set_defaults(func=cmd_person_export)
    erase = person_cmd.add_parser("erase", help="anonymise a person and delete the evidence "
                                  "no dossier needs (audited)")
    erase.add_argument("email")
    erase.add_argument("--dry-run", action="store_true",
                       help="list what would go and what stays, and why")
    erase.set_defaults(func=cmd_person_erase)
    reset = person_cmd.add_parser("reset-link", help="print a single-use password reset link "
                                  "(for servers without SMTP)")
    reset.add_argument("email")
    reset.set_defaults(func=cmd_person_reset_link)
    return parser


def main(argv: list[str] | None = None) -> int:
    from backend.serving import CommandError, clean_error

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CommandError as exc:
        print(f"carnet {args.command}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        message = clean_error(exc)
        if message is None:
            raise
        print(f"carnet {args.command}: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

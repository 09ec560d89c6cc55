"""The `carnet` commands of going live: `init` (the first branch and its first
administrator's setup link), `branch create`, `admin invite`, `backup`, `restore` and
`photos migrate` (backend/backup.py). `backend/cli.py` registers them.

A setup link is printed once, on standard output, and nowhere else: only its keyed hash is
stored, and no log line carries it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys


def _setup_link(settings, token: str) -> str:
    base = settings.public_url or "https://<your server>"
    return f"{base}/invitation/{token}"


def _link_lines(settings, token: str, days: int) -> list[str]:
    lines = [_setup_link(settings, token),
             f"single use, valid {days} day(s); it is shown only now: give it to the person only"]
    if not settings.public_url:
        lines.append("(set CARNET_PUBLIC_URL to the server's https:// address to print the "
                     "full link)")
    return lines


async def init_report(settings, branch: str, email: str, name: str) -> tuple[int, list[str]]:
    from backend.auth import utcnow
    from backend.domain import branches
    from backend.errors import CarnetError

    try:
        setup = await branches.init(branch_name=branch, admin_email=email, admin_name=name,
                                    at=utcnow(), days=settings.invitation_days,
                                    secret_key=settings.secret_key)
    except CarnetError as exc:
        return 1, [exc.message]
    return 0, [f"branch {setup.branch.id} created: {setup.branch.name}",
               f"first administrator {setup.issued.invitation.email}: open this link to choose "
               "a password and log in:",
               *_link_lines(settings, setup.issued.token, settings.invitation_days)]


async def branch_create_report(settings, name: str) -> tuple[int, list[str]]:
    from backend.domain import branches
    from backend.errors import CarnetError

    try:
        branch = await branches.create_branch(name, actor_id=None)
    except CarnetError as exc:
        return 1, [exc.message]
    return 0, [f"branch {branch.id} created: {branch.name}",
               f"invite its administrator: carnet admin invite EMAIL --branch {branch.id}"]


async def admin_invite_report(settings, email: str, branch_key: str | None,
                              name: str) -> tuple[int, list[str]]:
    from backend.auth import utcnow
    from backend.domain import branches
    from backend.errors import CarnetError
    from backend.models import Organisation

    try:
        if branch_key is None:
            found = await Organisation.filter(kind="branch").order_by("id").limit(2)
            if len(found) != 1:
                return 1, ["name the branch: --branch ID_OR_NAME" if found else
                           "no branch yet: run `carnet init --branch NAME --admin EMAIL`"]
            branch = found[0]
        else:
            branch = await branches.find_branch(branch_key)
        issued = await branches.invite_admin(branch, email=email, full_name=name, by=None,
                                             at=utcnow(), days=settings.invitation_days,
                                             secret_key=settings.secret_key)
    except CarnetError as exc:
        return 1, [exc.message]
    return 0, [f"administrator invitation {issued.invitation.id} for {branch.name}:",
               *_link_lines(settings, issued.token, settings.invitation_days)]


def _run(report) -> int:
    from backend.cli import _print_report, _with_orm, load_settings
    from backend.db import migrate

    settings = load_settings()
    asyncio.run(migrate(settings.database_url))  # a first start may precede `carnet serve`
    async def work():
        from backend import audit

        await audit.ensure_head()
        return await report(settings)

    return _print_report(asyncio.run(_with_orm(settings.database_url, work)))


def cmd_init(args: argparse.Namespace) -> int:
    return _run(lambda s: init_report(s, args.branch, args.admin, args.name or ""))


def cmd_branch_create(args: argparse.Namespace) -> int:
    return _run(lambda s: branch_create_report(s, args.name))


def cmd_admin_invite(args: argparse.Namespace) -> int:
    return _run(lambda s: admin_invite_report(s, args.email, args.branch, args.name or ""))


def _say(line: str) -> None:
    print(line, flush=True)


def cmd_backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from backend.backup import BackupError, backup
    from backend.cli import load_settings

    settings = load_settings(existing=True)
    try:
        manifest = backup(settings, Path(args.dest), _say)
    except BackupError as exc:
        print(f"carnet backup: {exc}", file=sys.stderr)
        return 1
    print(f"backup written to {args.dest}: {len(manifest['files'])} file(s) in MANIFEST.json "
          "(keep it off this server; it holds the secret key)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    from backend.backup import BackupError, restore
    from backend.settings import from_env

    try:
        restore(from_env(create=False), Path(args.src), _say)
    except BackupError as exc:
        print(f"carnet restore: {exc}", file=sys.stderr)
        return 1
    print("restored; check it with `carnet audit verify` and `carnet dossier verify ID`, "
          "then start the server")
    return 0


def cmd_photos_migrate(args: argparse.Namespace) -> int:
    from backend.backup import BackupError, migrate_photos
    from backend.cli import load_settings
    from backend.storage import LocalPhotoStore, S3PhotoStore, parse_s3_url

    settings = load_settings(existing=True)
    try:
        parse_s3_url(args.to)
    except ValueError as exc:
        print(f"carnet photos migrate: {exc}", file=sys.stderr)
        return 2
    source = LocalPhotoStore(settings.photo_store or settings.photos_dir)
    target = S3PhotoStore(args.to, endpoint_url=settings.s3_endpoint, region=settings.s3_region,
                          access_key_id=settings.s3_access_key_id,
                          secret_access_key=settings.s3_secret_access_key)
    try:
        copied, skipped = migrate_photos(source, target, _say)
    except BackupError as exc:
        print(f"carnet photos migrate: {exc} (run it again to resume)", file=sys.stderr)
        return 1
    print(f"{copied} photo(s) copied to {args.to}, {skipped} already there, all verified by "
          f"hash. Now set CARNET_PHOTO_STORE={args.to} and restart the server; the folder "
          f"{source.root} can go once the server runs on the bucket.")
    return 0


def register(sub) -> None:
    backup = sub.add_parser("backup", help="write a consistent backup into the empty folder "
                            "DEST (database, photos or their listing, secret key, manifest)")
    backup.add_argument("dest")
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", help="restore a backup into an empty data folder "
                             "(CARNET_DATA_DIR), every file checked against its manifest")
    restore.add_argument("src")
    restore.set_defaults(func=cmd_restore)
    photos = sub.add_parser("photos", help="the photo store").add_subparsers(
        dest="action", required=True)
    move = photos.add_parser("migrate", help="copy the folder store into an S3 bucket "
                             "(resumable, verified by hash)")
    move.add_argument("--to", required=True, metavar="s3://BUCKET/PREFIX")
    move.set_defaults(func=cmd_photos_migrate)

    init = sub.add_parser("init", help="first start: create the branch and print a one-time "
                          "setup link for its first administrator")
    init.add_argument("--branch", required=True, metavar="NAME", help="the branch's name")
    init.add_argument("--admin", required=True, metavar="EMAIL",
                      help="the first administrator's e-mail address")
    init.add_argument("--name", help="the administrator's full name (default: from the e-mail)")
    init.set_defaults(func=cmd_init)

    branch = sub.add_parser("branch", help="branches").add_subparsers(dest="action",
                                                                      required=True)
    create = branch.add_parser("create", help="create a further branch")
    create.add_argument("name")
    create.set_defaults(func=cmd_branch_create)

    admin = sub.add_parser("admin", help="branch administrators").add_subparsers(
        dest="action", required=True)
    invite = admin.add_parser("invite", help="print a one-time link making EMAIL an "
                              "administrator of a branch")
    invite.add_argument("email")
    invite.add_argument("--branch", metavar="ID_OR_NAME",
                        help="the branch (may be left out when there is only one)")
    invite.add_argument("--name", help="the person's full name (default: from the e-mail)")
    invite.set_defaults(func=cmd_admin_invite)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run `carnet`")

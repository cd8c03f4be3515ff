"""`sundown push init`: the shared secret answers are signed with, and an unguessable topic.

The secret is the one thing that makes an answer believable (docs/push.md, "Trust"), so it
is written once and never replaced without `--force`: a new secret on one machine would
make every other machine ignore its answers until the file is copied again.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sundown.errors import SundownError, UsageError

if TYPE_CHECKING:
    from sundown.cli.context import Context

DEFAULT_SERVER = "https://ntfy.sh"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add push (and its action, init)."""
    p = sub.add_parser(
        "push",
        parents=[common],
        help="set up the phone and your other machines: `sundown push init`",
        description="Push reminders to the phone and to your other machines through ntfy"
        " (`sundown help push`).",
    )
    actions = p.add_subparsers(dest="push_action", metavar="ACTION", required=True)
    init = actions.add_parser(
        "init",
        parents=[common],
        help="write the shared secret answers are signed with, and suggest an unguessable topic",
        description="Write the secret your machines share to sign answers (mode 600; an existing one"
        " is kept unless --force), make this machine's push id, and print the [push] lines to add"
        " to the config. Copy the config and the secret to each of your machines.",
    )
    init.add_argument(
        "--server",
        default=DEFAULT_SERVER,
        metavar="URL",
        help=f"the ntfy server for a new topic (default {DEFAULT_SERVER}; yours, e.g. https://ntfy.example.org)",
    )
    init.add_argument(
        "--force",
        action="store_true",
        help="replace an existing secret (every machine then needs the new one)",
    )
    init.set_defaults(func=cmd_push_init)


def _configured(ctx: Context) -> tuple[dict[str, Any], Path | None]:
    """The config file's [push] table as written (even when the config has errors) and the
    secret file it names, resolved as the config does."""
    from sundown.config.load import tomllib

    path = ctx.paths.config
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}, None
    table = raw.get("push")
    if not isinstance(table, dict):
        return {}, None
    named = table.get("secret_file")
    if not isinstance(named, str) or not named.strip():
        return table, None
    secret = Path(os.path.expanduser(named))
    return table, secret if secret.is_absolute() else path.resolve().parent / secret


def _home_relative(path: Path) -> str:
    home = Path.home()
    try:
        return "~/" + str(path.relative_to(home))
    except ValueError:
        return str(path)


def cmd_push_init(ctx: Context) -> int:
    from sundown.config import default_secret_file, read_secret_file
    from sundown.config.values import Invalid, read_ntfy_url
    from sundown.push.keys import device_id, new_topic, secret_file_text, write_private

    try:
        server, _ = read_ntfy_url(ctx.args.server.rstrip("/") + "/topic")
    except Invalid as exc:
        raise UsageError(f"--server: {str(exc).replace('/topic', '')}") from None
    table, named = _configured(ctx)
    secret = named or default_secret_file()
    if secret.exists() and not ctx.args.force:
        try:
            read_secret_file(secret)
        except Invalid as exc:
            raise SundownError(f"{exc}") from None
        raise SundownError(
            f"{secret} exists already; keep it (copy it to your other machines), or pass --force"
            " to replace it (then copy the new one to every machine)"
        )
    try:
        write_private(secret, secret_file_text(), replace=ctx.args.force)
    except OSError as exc:
        raise SundownError(f"cannot write {secret}: {exc.strerror or exc}") from None
    ident = device_id(ctx.paths.push_device)
    ctx.print(f"wrote the push secret to {secret} (mode 600)")
    ctx.print(f"this machine's push id: {ident} ({ctx.paths.push_device})")
    ntfy = table.get("ntfy") if isinstance(table.get("ntfy"), str) else None
    lines = ["[push]", f'ntfy = "{ntfy or f"{server}/{new_topic()}"}"']
    if ntfy:
        ctx.print(f"\n{ctx.paths.config} has [push] already; keep it:\n")
    else:
        ctx.print(f"\nAdd to {ctx.paths.config}:\n")
    for line in lines:
        ctx.print(f"  {line}")
    ctx.print(
        f"\nThen copy both files, {_home_relative(ctx.paths.config)} and {_home_relative(secret)},"
        " to each of your machines (mode 600), and give each machine its own `device` name."
        "\nOn the phone, subscribe to the topic in the ntfy app. The topic is a password:"
        " share it only with your own devices."
    )
    return 0

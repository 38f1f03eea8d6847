"""The ``meterops users`` commands: create users, set passwords, disable, list, second factor."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from meterops.auth import service as auth_service
from meterops.cli import context
from meterops.errors import InvalidInputError, MeterOpsError
from meterops.models.org import Role
from meterops.timeutil import utc_now

__all__ = ["app", "create", "disable", "list_users", "mfa_enroll", "mfa_reset", "set_password"]

app = typer.Typer(
    help="People who sign in: create, set passwords, disable, list, second factor.",
    no_args_is_help=True,
)

_ACTOR = "cli"


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise InvalidInputError("no password on standard input")
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="Sign-in name (lower-cased).")],
    role: Annotated[Role, typer.Option(help="What the person does.")],
    name: Annotated[str, typer.Option("--name", help="Name shown in the app.")],
    territory: Annotated[
        list[str] | None, typer.Option("--territory", help="Territory code (repeat for more).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a user; asks for the password twice unless ``--password-stdin``."""
    password = _password(password_stdin)
    with context.session() as session:
        user = auth_service.create_user(
            session,
            username=username,
            display_name=name,
            role=role,
            password=password,
            territory_codes=territory or [],
            actor=_ACTOR,
        )
        context.console.print(f"created user [bold]{user.username}[/] ({role.value})")


@app.command("set-password")
def set_password(
    username: Annotated[str, typer.Argument(help="Sign-in name.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Replace a user's password; their open sessions end."""
    password = _password(password_stdin)
    with context.session() as session:
        auth_service.set_password(
            session, username=username, password=password, actor=_ACTOR, now=utc_now()
        )
    context.console.print(f"password changed for [bold]{username}[/]; their sessions ended")


@app.command("disable")
def disable(username: Annotated[str, typer.Argument(help="Sign-in name.")]) -> None:
    """Disable a user: no more sign-ins, open sessions end."""
    with context.session() as session:
        auth_service.disable_user(session, username=username, actor=_ACTOR, now=utc_now())
    context.console.print(f"disabled [bold]{username}[/]")


@app.command("list")
def list_users() -> None:
    """Every user with role, territories and whether they can sign in."""
    with context.session() as session:
        rows = auth_service.list_users(session)
        table = Table("user", "name", "role", "territories", "active", "2nd factor")
        for user, codes in rows:
            table.add_row(
                user.username,
                user.display_name,
                user.role.value,
                ", ".join(codes) or "—",
                "yes" if user.active else "no",
                "yes" if user.mfa_confirmed_at_utc is not None else "no",
            )
    context.console.print(table)


@app.command("mfa-enroll")
def mfa_enroll(
    username: Annotated[str, typer.Argument(help="Sign-in name.")],
    code: Annotated[
        str | None,
        typer.Option("--code", help="A code from the app (asked for when absent)."),
    ] = None,
) -> None:
    """Give a user a TOTP second factor: prints the secret, then asks for one code to confirm.

    Add the printed ``otpauth://`` URI (or the secret) to an authenticator app, then type the
    6-digit code it shows. The factor is active only once a code confirmed it; approving held
    remote commands needs it.
    """
    with context.session() as session:
        enrolment = auth_service.begin_mfa_enrolment(
            session, username=username, actor=_ACTOR, now=utc_now()
        )
    context.console.print(f"second factor for [bold]{enrolment.username}[/]")
    context.console.print(f"secret: {enrolment.secret}", soft_wrap=True)
    context.console.print(f"otpauth URI: {enrolment.uri}", soft_wrap=True, markup=False)
    typed = code if code is not None else str(typer.prompt("Code from the authenticator app"))
    with context.session() as session:
        try:
            auth_service.confirm_mfa_enrolment(
                session,
                username=username,
                code=typed,
                actor=_ACTOR,
                now=utc_now(),
                policy=auth_service.SessionPolicy(),
                client_address=f"cli:{enrolment.username}",
            )
        except MeterOpsError:
            session.commit()  # the failed attempt counts towards throttling
            raise
    context.console.print(f"second factor active for [bold]{enrolment.username}[/]")


@app.command("mfa-reset")
def mfa_reset(username: Annotated[str, typer.Argument(help="Sign-in name.")]) -> None:
    """Remove a user's second factor (lost phone); they enrol again with ``mfa-enroll``."""
    with context.session() as session:
        auth_service.reset_mfa(session, username=username, actor=_ACTOR, now=utc_now())
    context.console.print(f"second factor removed for [bold]{username}[/]")

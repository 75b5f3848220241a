"""The command group of ``automl``: usage errors become one line, like every other error."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from automl.errors import ConfigError


class OneLineGroup(TyperGroup):
    """A command's usage error (an option value that is not a number, a missing argument, an
    unknown command) is raised as a :class:`ConfigError`, so the entry point prints it as one
    line with exit code 2 instead of typer's boxed usage text."""

    def invoke(self, ctx: Any) -> Any:  # typer vendors click's Context privately
        try:
            return super().invoke(ctx)
        except typer.TyperException as exc:
            # Typer vendors click privately; a usage error is the one with exit code 2.
            if getattr(exc, "exit_code", None) != 2 or not hasattr(exc, "format_message"):
                raise
            sub = getattr(exc, "ctx", None)
            where = sub.command_path if sub is not None else ctx.command_path
            message = " ".join(exc.format_message().split())
            raise ConfigError(f"{where}: {message} (see {where} --help)") from None


def command_group(name: str, help: str) -> typer.Typer:
    """A Typer app (the top-level one or a group such as ``automl db``) whose usage errors are
    one line (:class:`OneLineGroup`), without shell-completion commands or Rich tracebacks."""
    return typer.Typer(name=name, help=help, no_args_is_help=True, add_completion=False,
                       pretty_exceptions_enable=False, cls=OneLineGroup)

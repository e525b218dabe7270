"""What every `pipeline` command module shares: the stderr console, the one-line warnings
and the --model/--rules check. A leaf module (it imports no command module), so that
``cli`` can import the command modules (``cli_annotate``, ``cli_evaluate``) and they can use
these without importing ``cli`` back."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["err", "warn", "one_coder"]

# emoji=False: ":ok:" in an annotator's name or a path is text, not an emoji code
err = Console(stderr=True, emoji=False)


def warn(*notes: str) -> None:
    """Each note as one ``warning:`` line on stderr, not wrapped at the terminal's width, so
    that a log or ``grep`` holds it whole (as ``cli``'s errors are)."""
    for note in notes:
        err.print(f"[yellow]warning[/]: {escape(' '.join(note.split()))}", highlight=False,
                  soft_wrap=True)


def one_coder(model: Path | None, rules: bool) -> None:
    """``--model`` and ``--rules`` name the coder two ways: refuse both at once."""
    if model is not None and rules:
        raise typer.BadParameter("give --model or --rules, not both")

"""The tools' click command class: the C tools' parsing and one-line errors."""
from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

from ._app import ExitStatus, fail, run_guarded


class CaCommand(click.Command):
    """A click command that parses like the C tools' getopt and reports like them.

    Unknown options and missing arguments give the C tools' one-line messages and exit
    status 1; ``-h`` prints the usage on stderr; no traceback ever reaches the user.
    """

    def __init__(self, *args: Any, usage_text: str = "", permute: bool = True,
                 **kwargs: Any) -> None:
        settings = kwargs.setdefault("context_settings", {})
        settings.setdefault("help_option_names", [])
        settings["allow_interspersed_args"] = permute
        super().__init__(*args, **kwargs)
        self.usage_text = usage_text
        #: Split plain trailing words off before click parses (see parse_args).
        self.split_names = permute and any(p.name == "names" for p in self.params)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """click's parsing, with the trailing run of plain words (PV names) added to
        ``names`` directly: click's argv loop costs ~1 us per word (10 ms for 10,000
        names) and would only append them in the same order."""
        tail: list[str] = []
        if self.split_names:
            from ._getopt import split_plain_tail
            args, tail = split_plain_tail(args)
        rest = super().parse_args(ctx, args)
        if tail:
            ctx.params["names"] = (*(ctx.params.get("names") or ()), *tail)
        return rest

    def get_help(self, ctx: click.Context) -> str:
        return self.usage_text

    def make_parser(self, ctx: click.Context) -> Any:
        """click's parser, minus the cost of its misses: click tries every ``-x`` as a
        long option first, and each miss builds "did you mean" suggestions with difflib
        and a message through gettext (imports and a catalog search: ~3 ms per run).
        The C-style messages here use neither."""
        parser = super().make_parser(ctx)
        long_opts = getattr(parser, "_long_opt", None)
        match_long = getattr(parser, "_match_long_opt", None)
        if isinstance(long_opts, dict) and match_long is not None:
            def match_long_opt(opt: str, explicit_value: Any, state: Any) -> Any:
                if opt not in long_opts:
                    raise click.NoSuchOption(opt, f"No such option: {opt}", ctx=ctx)
                return match_long(opt, explicit_value, state)
            parser._match_long_opt = match_long_opt  # type: ignore[method-assign]
        return parser

    def main(  # type: ignore[override]  # (always exits; fast_exit for console scripts)
            self, args: Any = None, prog_name: str | None = None, fast_exit: bool = False,
            **extra: Any) -> NoReturn:
        """Run the command and exit (:func:`run_guarded`); ``fast_exit`` (console
        scripts) skips interpreter teardown once everything is flushed."""
        name = self.name or "catools"
        if args is None:
            args = sys.argv[1:]
            if f"_{name.upper()}_COMPLETE" in os.environ:   # (shell completion: click's)
                self._main_shell_completion({}, name)
        arguments = list(args)
        run_guarded(name, lambda: self._invoke(name, arguments), fast_exit)

    def _invoke(self, name: str, args: list[str]) -> int:
        """Parse and run; click's errors as the C tools' one-line messages."""
        try:
            with self.make_context(name, args) as ctx:
                return self.invoke(ctx)
        except click.exceptions.NoSuchOption as exc:
            fail(f"Unrecognized option: '{exc.option_name}'. ('{name} -h' for help.)")
        except click.exceptions.BadOptionUsage as exc:
            message = exc.message
            if message.endswith("requires an argument."):
                fail(f"Option '{exc.option_name}' requires an argument. "
                     f"('{name} -h' for help.)")
            fail(f"{message} ('{name} -h' for help.)")
        except click.exceptions.UsageError as exc:
            fail(f"{exc.format_message()} ('{name} -h' for help.)")
        except click.exceptions.Exit as exc:
            return exc.exit_code
        except click.exceptions.Abort:
            return ExitStatus.SIGINT
        except click.ClickException as exc:
            fail(f"{name}: {exc.format_message()}")

"""`lookbot`: a thin command line over core/, bot/, scraper/, training/ and measure/.

Each command is one library call plus formatting; its docstring is its help. Settings come
from environment variables (`lookbot config` lists them).
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Optional, Sequence

import click

from . import catalog_commands, engine_commands, measure_commands, training_commands

log = logging.getLogger("lookbot")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ chatter
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    for noisy in ("httpx", "ultralytics", "PIL", "matplotlib", "absl"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
def cli(verbose: bool) -> None:
    """Buy Me That Look: outfit photos in, product cards out."""
    _setup_logging(verbose)


for module in (engine_commands, catalog_commands, training_commands, measure_commands):
    for command in module.COMMANDS:
        cli.add_command(command)


def _clear_error(exc: Exception) -> bool:
    """Errors the user can fix (a setting, a missing model or index): one line, no traceback."""
    from core.config import ConfigError
    from core.embed import EmbedderUnavailable
    from core.index import IndexMismatch
    from core.service import ServeError

    return isinstance(exc, (ConfigError, EmbedderUnavailable, IndexMismatch, FileNotFoundError,
                            ServeError))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one command; its exit status (2 for a usage error or a setting to fix)."""
    args = list(sys.argv[1:] if argv is None else argv)
    obj = {"argv": args}
    try:
        return cli.main(args=args, prog_name="lookbot", standalone_mode=False, obj=obj) or 0
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except (KeyboardInterrupt, click.exceptions.Abort):
        return 130
    except Exception as exc:
        if _clear_error(exc):
            print(f"lookbot: {exc}", file=sys.stderr)
            return 2
        log.exception("lookbot %s failed", args[0] if args else "")
        return 1


if __name__ == "__main__":
    sys.exit(main())

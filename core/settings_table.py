"""Every setting as people read it: the README's table and `lookbot config`'s listing."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any, Optional

from pydantic import SecretStr

from .config import REPO_ROOT, Config


def shown(value: Any) -> str:
    """A setting's value as text: paths relative to the repository, a secret never."""
    if isinstance(value, SecretStr):
        return "(set, hidden)" if value.get_secret_value() else ""
    if isinstance(value, Path):
        try:
            value = value.relative_to(REPO_ROOT)
        except ValueError:
            value = Path(os.path.relpath(value, REPO_ROOT))
    return str(value)


def documented_settings() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting, for the README and `lookbot config`."""
    return [(str(field.validation_alias), shown(field.default), field.description or "")
            for field in Config.model_fields.values()]


def settings_markdown() -> str:
    """The README's settings table: variable, default and meaning of every setting."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{env}` | {f'`{default}`' if default else '–'} | {doc} |"
             for env, default, doc in documented_settings()]
    return "\n".join(rows)


def settings_text(config: Optional[Config] = None, width: int = 100) -> str:
    """`lookbot config`: each variable with the value in effect (and its default where the
    environment changed it), then its meaning, wrapped to `width`."""
    config = config or Config.from_env()
    blocks = []
    for name, field in Config.model_fields.items():
        value, default = shown(getattr(config, name)), shown(field.default)
        head = f"{field.validation_alias} = {value or '(empty)'}"
        if value != default:
            head += f"  (default: {default or '(empty)'})"
        doc = textwrap.fill(field.description or "", width=width, initial_indent="    ",
                            subsequent_indent="    ")
        blocks.append(f"{head}\n{doc}" if doc.strip() else head)
    return "\n".join(blocks)

"""The README documents every command and every setting (as sqlite-utils' docs tests do)."""
from __future__ import annotations

import re

import pytest

from core.settings_table import documented_settings
from lookbot.cli import cli
from tests.helpers import REPO

README = (REPO / "README.md").read_text()


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_in_the_readme(command):
    assert re.search(rf"^lookbot {re.escape(command)}\b", README, re.MULTILINE), \
        f"README.md has no `lookbot {command}` line in its command list"


@pytest.mark.parametrize("env, default", [(env, default) for env, default, _ in documented_settings()])
def test_every_setting_is_in_the_readme_with_its_default(env, default):
    row = re.search(rf"^\| `{re.escape(env)}` \| (.*?) \|", README, re.MULTILINE)
    assert row, f"README.md's settings table has no row for {env}"
    assert row.group(1) == (f"`{default}`" if default else "–"), env


def test_the_readme_settings_table_is_what_lookbot_config_prints():
    from core.settings_table import settings_markdown

    for row in settings_markdown().splitlines()[2:]:
        env = row.split("`")[1]
        assert row in README.splitlines(), \
            f"README.md's row for {env} differs from `lookbot config --markdown`"


"""`python -m bot.app` as a real process against the fake Bot API: configuration from the
environment, the engine loaded once, a new index version picked up without a restart, a clean
stop on SIGINT, and the token nowhere in its logs."""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from core.config import Config
from core.index import POINTER, current_version
from tests.conftest import REPO
from tests.fake_telegram import TOKEN, FakeTelegram

ADMIN = 77


def copy_data_dir(src: Path, dst: Path) -> str:
    """The catalog, the current index version and (linked) images, in a folder we may change."""
    version = current_version(src / "index")
    if version is None:
        pytest.skip(f"no catalog index in {src}: run `lookbot index`")
    dst.mkdir(parents=True)
    with sqlite3.connect(src / "catalog.db") as a, sqlite3.connect(dst / "catalog.db") as b:
        a.backup(b)
    (dst / "images").symlink_to((src / "images").resolve())
    shutil.copytree(src / "index" / version, dst / "index" / version)
    (dst / "index" / POINTER).write_text(version)
    return version


@pytest.mark.slow
async def test_bot_process_serves_reloads_the_index_and_keeps_the_token_secret(tmp_path):
    data = tmp_path / "data"
    version = copy_data_dir(Config.from_env().data_dir, data)
    fake = await FakeTelegram().start()
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "LOOKBOT_DATA_DIR": str(data),
           "LOOKBOT_TELEGRAM_BASE_URL": fake.base_url,
           "LOOKBOT_TELEGRAM_BASE_FILE_URL": fake.base_file_url,
           "LOOKBOT_ADMIN_IDS": f"{ADMIN}, not-a-number", "LOOKBOT_CRAWL_TIME": "off",
           "LOOKBOT_WORKERS": "1", "LOOKBOT_WEBHOOK_URL": ""}
    log = tmp_path / "bot.log"
    with open(log, "wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.app", cwd=REPO, env=env, stdout=out, stderr=out)
    try:
        await fake.wait_for(lambda: fake.sent(None, "setMyCommands") or proc.returncode
                            is not None, 180)
        assert proc.returncode is None, log.read_text()[-3000:]

        fake.send_text(ADMIN, "/stats")
        first = await fake.wait_for(lambda: fake.sent(ADMIN, "sendMessage"), 60)
        assert version in first[0].text

        newer = "v99999999-000000-reload"  # what `lookbot index` publishes next
        shutil.copytree(data / "index" / version, data / "index" / newer)
        (data / "index" / POINTER).write_text(newer)
        fake.send_text(ADMIN, "/stats")
        second = await fake.wait_for(lambda: fake.sent(ADMIN, "sendMessage")[1:], 60)
        assert newer in second[0].text, "the new index version is served without a restart"
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
        await fake.stop()
    text = log.read_text(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    assert TOKEN not in text and TOKEN.split(":")[1] not in text
    assert "not-a-number" in text  # the bad admin id is named in the log, then ignored

"""`python -m bot.app` as a real process against the fake Bot API: configuration from the
environment, the engine loaded once, a new index version picked up without a restart, a clean
stop on SIGINT, the token nowhere in its logs, and no taken photo lost to a SIGKILL."""
from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import pytest

from core.config import Config
from core.index import POINTER, current_version
from tests.helpers import REPO, shared, small_jpeg
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_worker_bot_env(tmp_path: Path, fake: FakeTelegram, **extra: str) -> dict:
    """The environment of a `bot.app` process on a copy of the demo data in `tmp_path`, polling
    `fake`, answering one photo at a time, 2 products a card, its SQLite in tmp_path/bot.db."""
    data = tmp_path / "data"
    copy_data_dir(Config.from_env().data_dir, data)
    return {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "LOOKBOT_DATA_DIR": str(data),
            "LOOKBOT_TELEGRAM_BASE_URL": fake.base_url,
            "LOOKBOT_TELEGRAM_BASE_FILE_URL": fake.base_file_url, "LOOKBOT_CRAWL_TIME": "off",
            "LOOKBOT_WORKERS": "1", "LOOKBOT_WEBHOOK_URL": "", "LOOKBOT_K": "2",
            "LOOKBOT_BOT_DB": str(tmp_path / "bot.db"), **extra}


async def stop_process(proc: asyncio.subprocess.Process) -> None:
    """Stop a bot process as Ctrl-C would, killing it if it has not stopped within a minute."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 60)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_bot_process_serves_reloads_the_index_and_keeps_the_token_secret(tmp_path, mode):
    data = tmp_path / "data"
    version = copy_data_dir(Config.from_env().data_dir, data)
    fake = await FakeTelegram().start()
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "LOOKBOT_DATA_DIR": str(data),
           "LOOKBOT_TELEGRAM_BASE_URL": fake.base_url,
           "LOOKBOT_TELEGRAM_BASE_FILE_URL": fake.base_file_url,
           "LOOKBOT_ADMIN_IDS": f"{ADMIN}, not-a-number", "LOOKBOT_CRAWL_TIME": "off",
           "LOOKBOT_WORKERS": "1", "LOOKBOT_WEBHOOK_URL": ""}
    if mode == "webhook":
        port = free_port()
        env.update(LOOKBOT_WEBHOOK_URL=f"http://127.0.0.1:{port}/lookbot-hook",
                   LOOKBOT_WEBHOOK_LISTEN="127.0.0.1", LOOKBOT_WEBHOOK_PORT=str(port),
                   LOOKBOT_WEBHOOK_SECRET="s3cret-for-tests")
    log = tmp_path / "bot.log"
    with open(log, "wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.app", cwd=REPO, env=env, stdout=out, stderr=out)

    async def until(predicate, timeout: float = 60):
        try:
            return await fake.wait_for(lambda: predicate() or proc.returncode is not None,
                                       timeout)
        except TimeoutError:
            pytest.fail("the bot did not answer; its log ends:\n" + log.read_text()[-3000:])

    try:
        ready = "setWebhook" if mode == "webhook" else "deleteWebhook"
        await until(lambda: fake.sent(None, "setMyCommands") and fake.sent(None, ready), 180)
        assert proc.returncode is None, log.read_text()[-3000:]
        if mode == "webhook":
            assert fake.webhook == {"url": env["LOOKBOT_WEBHOOK_URL"],
                                    "secret_token": "s3cret-for-tests"}

        fake.send_text(ADMIN, "/stats")
        await until(lambda: fake.sent(ADMIN, "sendMessage"))
        assert version in fake.sent(ADMIN, "sendMessage")[0].text

        newer = "v99999999-000000-reload"  # what `lookbot index` publishes next
        shutil.copytree(data / "index" / version, data / "index" / newer)
        (data / "index" / POINTER).write_text(newer)
        fake.send_text(ADMIN, "/stats")
        await until(lambda: fake.sent(ADMIN, "sendMessage")[1:])
        assert newer in fake.sent(ADMIN, "sendMessage")[1].text, \
            "the new index version is served without a restart"
    finally:
        await stop_process(proc)
        await fake.stop()
    if mode == "webhook":
        assert fake.webhook_statuses and set(fake.webhook_statuses) == {200}
    text = log.read_text(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    assert TOKEN not in text and TOKEN.split(":")[1] not in text
    assert "not-a-number" in text  # the bad admin id is named in the log, then ignored


@pytest.mark.slow
async def test_photos_taken_before_sigkill_are_answered_once_in_order_by_the_next_process(
        tmp_path):
    fake = await FakeTelegram().start()
    env = one_worker_bot_env(tmp_path, fake, LOOKBOT_DRAW_BOXES="0")
    log = tmp_path / "bot.log"

    def waiting() -> int:
        """Photos in the bot's SQLite still to answer (-1 before the bot made its table)."""
        with contextlib.closing(sqlite3.connect(tmp_path / "bot.db")) as db:
            try:
                return db.execute("select count(*) from pending_photos").fetchone()[0]
            except sqlite3.OperationalError:
                return -1

    async def bot_process() -> asyncio.subprocess.Process:
        with open(log, "ab") as out:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.app", cwd=REPO, env=env, stdout=out, stderr=out)

    photos = [small_jpeg(shared("people", "fullshot", name), 320) for name in
              ("clothing__photos_0032.jpg", "clothing__photos_0049.jpg",
               "clothing__photos_0098.jpg")]
    replies = lambda: [c.reply_to for c in fake.sent(81) if c.reply_to and  # noqa: E731
                       not c.text.startswith("Got ")]
    proc = await bot_process()
    try:
        sent = [fake.send_photo(81, data) for data in photos]
        await fake.wait_for(lambda: (proc.returncode is not None or replies()
                                     and waiting() == 2), 240)
        proc.kill()  # SIGKILL: no farewell, no clean close of anything
        await proc.wait()
        assert replies() == [sent[0]["message_id"]], log.read_text()[-3000:]

        proc = await bot_process()
        ids = [m["message_id"] for m in sent]
        await fake.wait_for(lambda: proc.returncode is not None or len(replies()) >= 3
                            and waiting() == 0, 240)
        await asyncio.sleep(1)  # time for any extra answer to show
        assert replies() == ids, "each photo answered exactly once, in order, across the kill"
        assert "answering 2 photo(s) left unanswered by the previous run" in log.read_text()
        assert not [c for c in fake.sent(81) if "send it again" in c.text]
    finally:
        await stop_process(proc)
        await fake.stop()


@pytest.mark.slow
async def test_a_second_stop_signal_stops_at_once_and_keeps_what_was_left(tmp_path):
    fake = await FakeTelegram().start()
    env = one_worker_bot_env(tmp_path, fake)
    log = tmp_path / "bot.log"
    photo = small_jpeg(shared("people", "fullshot", "clothing__photos_0032.jpg"), 320)
    with open(log, "ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.app", cwd=REPO, env=env, stdout=out, stderr=out)
    try:
        for _ in range(6):
            fake.send_photo(82, photo)
        await fake.wait_for(lambda: proc.returncode is not None
                            or [c for c in fake.sent(82) if c.text.startswith("I found")], 240)
        proc.send_signal(signal.SIGTERM)  # the drain would answer for up to 60 s
        await fake.wait_for(lambda: "Application is stopping" in log.read_text()
                            or proc.returncode is not None, 30)
        await asyncio.sleep(0.5)
        proc.send_signal(signal.SIGTERM)  # don't wait
        await asyncio.wait_for(proc.wait(), 30)
        text = log.read_text()
        assert proc.returncode == 0, text[-3000:]
        assert "stay recorded for the next start" in text
        assert "Task was destroyed" not in text and "Traceback" not in text, text[-3000:]
        with contextlib.closing(sqlite3.connect(tmp_path / "bot.db")) as db:
            kept = db.execute("select count(*) from pending_photos").fetchone()[0]
        assert kept >= 1  # nothing lost: the next start answers them
        assert not [c for c in fake.sent(82) if "send it again" in c.text]
    finally:
        await stop_process(proc)
        await fake.stop()


@pytest.mark.slow
async def test_a_refused_token_or_an_unreachable_telegram_is_one_clear_line_without_the_token(
        tmp_path):
    fake = await FakeTelegram().start()  # it answers 401 to any other token, as Telegram does
    wrong = "123456:WRONGtokenWRONGtoken"
    try:
        for base, said in ((fake.base_url, "Telegram refused the token in TELEGRAM_BOT_TOKEN"),
                           (f"http://127.0.0.1:{free_port()}/bot", "cannot reach Telegram")):
            env = {**os.environ, "TELEGRAM_BOT_TOKEN": wrong, "LOOKBOT_TELEGRAM_BASE_URL": base,
                   "LOOKBOT_CRAWL_TIME": "off", "LOOKBOT_BOT_DB": str(tmp_path / "bot.db")}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.app", cwd=REPO, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(proc.communicate(), 240)
            assert proc.returncode == 2
            assert wrong not in (out + err).decode()
            assert said in err.decode().strip().splitlines()[-1]
    finally:
        await fake.stop()


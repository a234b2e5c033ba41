"""The store of taken, unanswered photos on a real SQLite file: what is added is there after a
reopen (as after a crash), in each sender's order, until removed; a photo is recorded once."""
from __future__ import annotations

from bot.photo_queue_store import PendingPhoto, PhotoQueueStore
from bot.prefs import Prefs


def photo(chat: int, message: int, sender: int | None = None, album: str | None = None
          ) -> PendingPhoto:
    sender = chat if sender is None else sender
    return PendingPhoto(chat, message, sender, sender if sender > 0 else None,
                        "private" if chat > 0 else "group", f"file-{chat}-{message}", 52_000,
                        album, "2026-12-03T18:00:00+00:00")


def test_taken_photos_outlive_a_reopen_in_order_until_answered(tmp_path):
    path = tmp_path / "bot.db"
    Prefs(path)  # the bot's own tables share the file
    store = PhotoQueueStore(path)
    store.add([photo(7, 1012, album="g1"), photo(7, 1011, album="g1")])
    store.add([photo(-70, 1005, sender=9), photo(7, 1003)])
    store.add([photo(7, 1011)])  # delivered again: still one record
    assert store.count() == 4
    store.conn.close()  # no clean close, as when the process is killed

    again = PhotoQueueStore(path)
    assert [(p.sender, p.chat_id, p.message_id) for p in again.left()] == \
        [(7, 7, 1003), (7, 7, 1011), (7, 7, 1012), (9, -70, 1005)]
    first = again.left()[1]
    assert (first.file_id, first.album_id, first.file_size, first.sent.year) == \
        ("file-7-1011", "g1", 52_000, 2026)
    assert again.recorded([(7, 1011), (7, 1099), (-70, 1005)]) == {(7, 1011), (-70, 1005)}
    assert again.recorded([]) == set()

    again.remove(7, 1011)
    again.remove(7, 1011)  # a second removal is harmless
    assert [p.message_id for p in again.left()] == [1003, 1012, 1005]
    assert "users" in Prefs(path).db.table_names()
    again.close()

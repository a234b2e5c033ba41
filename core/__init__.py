"""lookbot's engine: full-shot gate, article detection, embeddings and catalog search.

Nothing in here knows about Telegram or Selenium; `bot/` and `scraper/` are shells around it.
"""

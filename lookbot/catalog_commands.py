"""The catalog's and the bot's commands: crawl, refresh, bot."""
from __future__ import annotations

import click

from .common import config, echo_json, json_flag

url_option = click.option("--url", "urls", multiple=True,
                          help="listing URL (repeatable; default: every listing)")
pages_option = click.option("--max-pages", type=int, default=None,
                            help="pages per listing (default LOOKBOT_CRAWL_MAX_PAGES)")
no_images_option = click.option("--no-images", is_flag=True, help="skip image downloads")


@click.command()
@url_option
@pages_option
@no_images_option
@json_flag
def crawl(urls, max_pages, no_images, as_json):
    """Crawl Myntra listings into the catalog with Selenium."""
    from scraper.crawl import crawl as run_crawl

    summary = run_crawl(config(), urls=list(urls) or None, max_pages=max_pages,
                        fetch_images=not no_images, progress=not as_json)
    echo_json(summary.to_json()) if as_json else click.echo(summary.format())
    return summary.exit_code


@click.command()
@url_option
@pages_option
@no_images_option
@json_flag
def refresh(urls, max_pages, no_images, as_json):
    """Crawl the catalog, then rebuild the index, under the refresh lock (the bot's nightly job).

    Exit status 0 when both succeeded, 3 when another refresh holds the lock, 1 otherwise."""
    from scraper.refresh import exit_status, run_refresh

    result = run_refresh(config(), list(urls) or None, max_pages, not no_images)
    echo_json(result.to_json()) if as_json else click.echo(f"refresh {result.status}: "
                                                           f"{result.message}")
    return exit_status(result)


@click.command()
def bot():
    """Run the Telegram bot: long polling, or a webhook when LOOKBOT_WEBHOOK_URL is set.

    Needs TELEGRAM_BOT_TOKEN."""
    from bot.app import main as bot_main

    return bot_main()


COMMANDS = [crawl, refresh, bot]

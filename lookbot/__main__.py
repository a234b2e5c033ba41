"""`python -m lookbot ...`, the same as the `lookbot` command (the bot's refresh job runs it so)."""
import sys

from .cli import main

sys.exit(main())

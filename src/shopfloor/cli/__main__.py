"""``python -m shopfloor.cli``: the ``shopfloor`` command."""

from shopfloor.cli import app

app()

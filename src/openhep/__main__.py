"""``python -m openhep`` runs the ``openhep`` command."""

from __future__ import annotations

from openhep.cli import main

main()

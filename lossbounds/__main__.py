"""``python -m lossbounds`` runs the command-line interface."""

from lossbounds.cli import main

raise SystemExit(main())

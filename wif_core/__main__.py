"""``python -m wif_core``: see ``wif_core.cli``."""
from wif_core import cli

raise SystemExit(cli.main())

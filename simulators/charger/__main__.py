"""``python -m simulators.charger``: see :mod:`simulators.charger.cli`."""

from simulators.charger.cli import main

raise SystemExit(main())

"""``python -m simulators.smartcar``: see :mod:`simulators.smartcar.cli`."""

from simulators.smartcar.cli import main

raise SystemExit(main())

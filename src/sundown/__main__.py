"""Allow ``python -m sundown``."""

from sundown.cli import main

raise SystemExit(main())

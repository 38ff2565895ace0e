"""`python -m api.cli`, the same as `verity`."""

from api.cli.parser import main

raise SystemExit(main())

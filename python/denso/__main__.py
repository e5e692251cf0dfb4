"""`python -m denso ...`: the command line (see denso.cli)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

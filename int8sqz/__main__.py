"""``python -m int8sqz``: the ``int8sqz`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

"""``python -m lmlab ...`` (and ``torchrun -m lmlab ...``): the ``lmlab`` command."""

import sys

from lmlab.cli import main

if __name__ == "__main__":
    sys.exit(main())

"""`python -m variants NAME [lifecycle args...]`: the reference CLI with defect NAME."""

import sys

from lifecycle.cli import main
from variants import DEFECTS

name, *args = sys.argv[1:]
DEFECTS[name]()
sys.exit(main(args))

"""`python -m ptcheck.cli`: the same as the `ptcheck` command."""
from . import main

main()

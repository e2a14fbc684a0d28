"""``python -m atomcount``: the same as the ``atomcount`` command."""
from atomcount.cli import main

main()

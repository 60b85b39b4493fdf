"""``python -m followmoney.cli``: the command line."""

from followmoney.cli import main

main()

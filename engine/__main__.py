"""`python -m rulesync`: the same as the `rulesync` command."""

from rulesync.cli import main

main()

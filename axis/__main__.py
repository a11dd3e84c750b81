"""`python -m axis`: the same CLI as the `axis` console script."""

from axis.cli.main import main

main()

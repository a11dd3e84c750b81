"""`python -m axis`: the same CLI as the `axis` console script."""

from axis.main import main

main()

"""Commands run on hosts on request, outside the reconcile: `axis on`, `axis clean`, `axis exec`."""

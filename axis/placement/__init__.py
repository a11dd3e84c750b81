"""Placing claims on hosts: requirements inferred from a task, candidates, the fit score, the lease ledger."""

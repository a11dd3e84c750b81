"""axis.reconciler"""

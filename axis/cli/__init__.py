"""axis.cli"""

"""axis.specs"""

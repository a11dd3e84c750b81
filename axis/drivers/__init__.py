"""axis.drivers"""

"""axis.state"""

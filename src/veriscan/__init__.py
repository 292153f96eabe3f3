"""Veriscan: is this file malicious, and is this media authentic?"""

__version__ = "0.1.0"

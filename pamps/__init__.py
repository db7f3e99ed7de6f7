"""Pamps: a Twitter-style microblog served as a JSON API."""

__version__ = "0.1.0"

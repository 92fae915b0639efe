"""Counting stay days: border crossings against the stay rules of a host country."""

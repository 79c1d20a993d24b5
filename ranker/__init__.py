"""Ranker: self-hosted Most Viewed rankings for news sites, on Redis sorted sets with time decay."""

__version__ = "0.1.0"

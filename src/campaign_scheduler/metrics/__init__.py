"""Reach: metric snapshots of published posts over time, and earned use of the hashtag."""

"""sstcast."""

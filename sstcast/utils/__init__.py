"""Small shared helpers: file I/O (atomic writes, hashing, URLs), provenance, reporting."""

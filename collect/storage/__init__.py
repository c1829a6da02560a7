"""Storage layer: the database models and the blob store."""

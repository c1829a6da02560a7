"""Domain layer: what collect does, free of Flask request objects."""

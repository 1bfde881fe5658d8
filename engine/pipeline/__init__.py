"""End-to-end steps that glue the stages together (seed -> image, export)."""

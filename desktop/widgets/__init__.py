"""Custom Qt widgets of the studio (self-contained, each with its own signals)."""

"""StyleDomain Studio desktop application (PySide6)."""

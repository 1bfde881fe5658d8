"""The ``styledomain`` command line."""

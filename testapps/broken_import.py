"""Raises while being imported: --module broken_import must fail at start-up with this traceback."""

raise RuntimeError("broken_import refuses to be imported")

"""Reports from the client: the report actions, the preview and the Error Check window."""

"""The frame around the work: start-up, login, the main window, banners, the idle
lock, connection state, Help and the workstation's own settings."""

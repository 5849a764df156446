"""radzoo's built-in plugins: they register through the same hooks a third-party package uses."""

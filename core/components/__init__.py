"""Components: the plugin registries, entry-point discovery and the component protocols."""

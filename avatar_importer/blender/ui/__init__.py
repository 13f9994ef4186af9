"""What the user sees: the Avatar tab, its operators and properties, preferences, browsing."""

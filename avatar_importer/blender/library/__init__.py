"""The asset-library capability: avatars saved as marked assets, filled from a manifest."""

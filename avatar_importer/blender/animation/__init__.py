"""Animating imported avatars: body retargeting, face capture, lip-sync."""

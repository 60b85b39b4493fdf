"""Multi-hop graph typologies (placeholder: being written)."""

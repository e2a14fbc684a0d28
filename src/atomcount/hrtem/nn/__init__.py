"""Neural networks (torch only; no physics in here)."""

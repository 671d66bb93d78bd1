"""Site load management: sharing a grid connection among the sessions charging on it."""

"""Supervisor side of corral: configuration, the pool's decisions and the loop that applies them."""

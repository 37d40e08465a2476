"""Configuration: the one module that reads the process environment (`environment`)."""

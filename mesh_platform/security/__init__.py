"""Security: keys, encryption and tokens, PII propagation, and which SQL calls are allowed."""

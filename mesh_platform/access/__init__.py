"""Subscribe and access: subscriptions and their audit, the access policy (attribute-based,
masking on read), read-only products and who answers for what."""

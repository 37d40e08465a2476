"""A subscription's states and routes (no database: importing them stays light)."""

# A subscription's life: requested -> approved | denied; approved -> revoked; denied and
# revoked -> requested again (a new round).
REQUESTED, APPROVED, DENIED, REVOKED = "requested", "approved", "denied", "revoked"
STATES = (REQUESTED, APPROVED, DENIED, REVOKED)
# Who decides a request, as the approval sensor routed it: nobody yet (None), the policy
# itself (`auto`: approved, `policy`: denied), the producer domain, or the platform team.
ROUTES = ("auto", "policy", "producer", "platform")

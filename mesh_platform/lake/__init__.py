"""The lakehouse: Delta tables per product (`lakehouse`), and partition windows (`partitions`)."""

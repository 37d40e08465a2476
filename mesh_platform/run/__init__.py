"""One materialization of a product, engine-neutral: inputs, engine, contract, gate, write."""

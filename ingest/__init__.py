"""Read cards from a source, validate, chunk, embed and upsert them into the card index."""

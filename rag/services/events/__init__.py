"""What happened: the event each ask, draft, search and check records, and the recorder that writes it."""

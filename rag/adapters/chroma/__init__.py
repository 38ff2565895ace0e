"""The card store on Chroma, embedded or as a server."""

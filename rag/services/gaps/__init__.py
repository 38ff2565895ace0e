"""The gap inbox: refused questions grouped, across languages, into the knowledge that is missing."""

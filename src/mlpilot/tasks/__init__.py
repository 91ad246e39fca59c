"""Everything specific to one kind of data; tasks never import each other."""
